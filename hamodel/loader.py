"""Load an :class:`Architecture` from a model file, a module or JSON.

Accepted forms:

- ``models/openstack_keepalived.py``: runs the file; takes its module-level
  ``architecture`` (an ``Architecture``, or a function returning one), else
  the single ``Architecture`` defined at module level.
- ``models/openstack_keepalived.py:attr`` or ``package.module:attr``.
- ``something.json``: a model exported by ``hamodel export``.

The model file's own directory is importable while it runs, so a model can
import a sibling (``from openstack_keepalived import controllers``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from pydantic import ValidationError

from hamodel.errors import LoadError, ModelError, from_validation_error
from hamodel.files import UnreadableFile, file_kind, read_bounded
from hamodel.model import Architecture


def _split(spec: str) -> tuple[str, str | None]:
    # "C:\\x.py" is not a concern here (POSIX only), but keep ":" in paths
    # that exist as files.
    if ":" in spec and not Path(spec).exists():
        target, attr = spec.rsplit(":", 1)
        return target, attr or None
    return spec, None


_LIBRARY_DIRS = tuple(
    str(Path(p).resolve()) for p in {sys.prefix, sys.base_prefix, str(Path(__file__).resolve().parent)}
)


def _where(exc: BaseException, files: set[str]) -> tuple[str | None, int | None]:
    """The innermost traceback frame in the model's own code.

    That is a frame inside one of ``files``, or failing that any frame
    outside the interpreter's and hamodel's own directories.
    """
    found: tuple[str | None, int | None] = (None, None)
    fallback: tuple[str | None, int | None] = (None, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        resolved = str(Path(frame.filename).resolve())
        if resolved in files:
            found = (frame.filename, frame.lineno)
        elif not resolved.startswith(_LIBRARY_DIRS) and not frame.filename.startswith("<"):
            fallback = (frame.filename, frame.lineno)
    if found == (None, None):
        found = fallback
    if found == (None, None) and isinstance(exc, SyntaxError):
        return exc.filename, exc.lineno
    return found


#: Files each loaded model file read as Python from its own folder (itself
#: included), by resolved path: what a command must never write over.
_INPUTS: dict[str, frozenset[str]] = {}


def _folder_modules(names: set[str], folder: str) -> set[str]:
    """Resolved files of the modules ``names`` that live under ``folder``."""
    out = set()
    for name in names:
        m = sys.modules.get(name)
        f = getattr(m, "__file__", None) if m is not None else None
        if f and str(Path(f).resolve()).startswith(folder + "/"):
            out.add(str(Path(f).resolve()))
    return out


def model_inputs(spec: str | Path) -> tuple[Path, ...]:
    """The files a loaded model was read from: the model file (or JSON) and
    every module it imported from its own folder (after :func:`load`)."""
    target, _ = _split(str(spec))
    path = Path(target)
    if path.suffix in (".py", ".json"):
        return (path, *sorted(Path(f) for f in _INPUTS.get(str(path.resolve()), ()) if f != str(path.resolve())))
    return tuple(Path(f) for f in sorted(_INPUTS.get(target, ())))


def _exec_file(path: Path) -> ModuleType:
    modname = "hamodel_model_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:
        raise LoadError("cannot load this file as Python", str(path))
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    before = set(sys.modules)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        model_files = {str(path.resolve())} | {
            str(Path(file).resolve())
            for name in set(sys.modules) - before
            if (m := sys.modules.get(name)) is not None
            and (file := getattr(m, "__file__", None))
            and str(Path(file).resolve()).startswith(folder)
        }
        filename, lineno = _where(exc, model_files)
        raise LoadError(_message(exc), filename or str(path), lineno) from None
    finally:
        _INPUTS[str(path.resolve())] = frozenset(_folder_modules(set(sys.modules) - before, folder))
        if added:
            sys.path.remove(folder)
        # Sibling model modules are re-read on the next load: a changed
        # model must not be served from the import cache.
        for name in set(sys.modules) - before:
            m = sys.modules.get(name)
            f = getattr(m, "__file__", None) or ""
            if f and str(Path(f).resolve()).startswith(folder + "/"):
                del sys.modules[name]
    return module


def _message(exc: BaseException) -> str:
    """What went wrong in a model's own code, in one line."""
    if isinstance(exc, SystemExit):
        # sys.exit() in a model must not end hamodel with the model's code:
        # exit 0 without output would pass every gate (check, build --check)
        return f"the model called sys.exit({exc.code!r}); a model defines an architecture and must not end the program"
    if isinstance(exc, ValidationError):
        exc = from_validation_error(exc)
    kind = "" if isinstance(exc, (ModelError, LoadError)) else f"{type(exc).__name__}: "
    return f"{kind}{exc}"


def _pick(module: ModuleType, attr: str | None, label: str) -> Architecture:
    if attr is not None:
        if not hasattr(module, attr):
            raise LoadError(f"no attribute {attr!r}", label)
        value = getattr(module, attr)
    elif hasattr(module, "architecture"):
        value = module.architecture
    else:
        found = [v for v in vars(module).values() if isinstance(v, Architecture)]
        if len(found) != 1:
            raise LoadError(
                "define a module-level 'architecture' (an Architecture or a function returning one)"
                + (f"; found {len(found)} Architecture objects" if found else ""),
                label,
            )
        value = found[0]
    if callable(value) and not isinstance(value, Architecture):
        try:
            value = value()
        except (Exception, SystemExit) as exc:
            filename, lineno = _where(exc, {str(Path(getattr(module, "__file__", "") or "").resolve())})
            if isinstance(exc, ValidationError):
                exc = from_validation_error(exc)
            raise LoadError(
                _message(exc) if isinstance(exc, SystemExit) else str(exc), filename or label, lineno
            ) from None
    if not isinstance(value, Architecture):
        raise LoadError(f"expected an Architecture, got {type(value).__name__}", label)
    return value


def load(spec: str | Path) -> Architecture:
    """Load and validate a model; raises :class:`LoadError` naming file and line."""
    target, attr = _split(str(spec))
    path = Path(target)
    if path.suffix == ".json":
        try:
            data = read_bounded(path, "a JSON model")
        except FileNotFoundError:
            raise LoadError("no such file", str(path)) from None
        except (OSError, UnreadableFile) as exc:
            raise LoadError(getattr(exc, "strerror", None) or str(exc), str(path)) from None
        try:
            return Architecture.from_json(data)
        except ModelError as exc:
            raise LoadError(str(exc), str(path)) from None
    if path.suffix == ".py":
        if not path.is_file():
            # a FIFO would hang the import, a directory is no module: say what it is
            raise LoadError(
                f"it is {file_kind(path.stat().st_mode)}, not a model file" if path.exists() else "no such file",
                str(path),
            )
        return _pick(_exec_file(path), attr, str(path))
    cwd = str(Path.cwd())
    added = cwd not in sys.path
    if added:  # "module:attr" resolves from the current directory, as python -m does
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name and target.startswith(exc.name):
            raise LoadError(f"no model file or module {target!r}") from None
        raise LoadError(f"ModuleNotFoundError: {exc}", target) from None
    except (Exception, SystemExit) as exc:
        filename, lineno = _where(exc, {str(Path(getattr(exc, "filename", "") or "").resolve())})
        raise LoadError(_message(exc), filename or target, lineno) from None
    finally:
        if added:
            sys.path.remove(cwd)
    if (module_file := getattr(module, "__file__", None)) is not None:
        _INPUTS[target] = frozenset({str(Path(module_file).resolve())})
    return _pick(module, attr, target)
