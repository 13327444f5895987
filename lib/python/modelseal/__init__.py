"""modelseal: verify signed machine-learning models before loading them.

A binding over libmodelseal's C API (``modelseal.h``), for the services that load models. It reads
and writes the OpenSSF Model Signing (OMS) format, as the ``modelseal`` command-line tools do, and
gives the same decisions and the same one-line error messages::

    import modelseal

    m = modelseal.verify("/models/bert", public_key="release.pub")   # or policy="policy.json"
    m.root_digest, m.signers, m.files      # what was verified, and by whom
    cfg = m.read("config.json")            # bytes hashed in the very pass that returned them
    with m.open("model.safetensors") as f: # a file object over the verified descriptor
        ...                                # (mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) works)
    state = modelseal.torch.load(m, "pytorch_model.bin", map_location="cpu")

    modelseal.scan("/models/bert").check()                     # raises UnsafeContent if needed
    modelseal.sign("/models/bert", key="release.key", passphrase_file="pass.txt")

Nothing here returns a bool for a security decision: a model or file that is not trusted raises
:class:`NotTrusted` (a :class:`PermissionError`); a bad argument :class:`UsageError` (a
:class:`ValueError`); an I/O error :class:`ModelsealOSError` (an :class:`OSError` with ``errno``).
``str(e)`` is the line the tools print after ``modelseal:``; ``e.hint`` their ``hint:`` line.

The library is the one ``meson install`` installed beside this package, or the file named by
``$MODELSEAL_LIBRARY``. Calls release the GIL while they hash, so threads verifying different
models run in parallel; a :class:`VerifiedModel` may be shared between threads and used in a
child made by ``os.fork()``. ``import modelseal`` never imports torch.
"""

from __future__ import annotations

import ctypes
import io
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from . import _native
from ._errors import ModelsealError, ModelsealOSError, NotTrusted, UnsafeContent, UsageError
from ._native import StrPath, library_path

if TYPE_CHECKING:  # the submodule is imported on first use (see __getattr__), never by `import modelseal`
    from . import torch  # noqa: F401

__all__ = [
    "verify", "VerifiedModel", "Signer", "Resource",
    "scan", "ScanReport", "FileScan", "Finding",
    "sign", "Signed",
    "ModelsealError", "NotTrusted", "UnsafeContent", "UsageError", "ModelsealOSError",
    "library_path",
]

__version__ = _native.installed_version()   # one version string: meson.build's


@dataclass(frozen=True)
class Signer:
    """A signature that counted towards the policy's threshold: the policy's name for the key
    (``id``) and the key id the signature carried (``keyid``)."""

    id: str
    keyid: str


@dataclass(frozen=True)
class Resource:
    """One entry of the signed manifest: a file (or a shard ``path:start:end``) and its digest."""

    name: str
    digest: str


def _paths(value: Union[None, StrPath, Iterable[StrPath]], what: str) -> List[bytes]:
    if value is None:
        return []
    if isinstance(value, (str, bytes, os.PathLike)):
        return [_native.path_arg(value, what)]
    return [_native.path_arg(v, what) for v in value]


def _one_line(text: str) -> str:
    return text.replace("\n", "\\n")


class VerifiedModel:
    """A model whose signature (and, unless ``signature_only``, every file) was verified.

    Made only by :func:`verify`; there is no other way to construct one. Its methods hand out only
    bytes that were hashed in the same pass and matched the signature. It holds no open file and
    may be shared between threads and inherited by a forked child.
    """

    __slots__ = ("_handle", "_info", "__weakref__")
    _handle: ctypes.c_void_p
    _info: Dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a VerifiedModel is made only by modelseal.verify()")

    @classmethod
    def _adopt(cls, handle: ctypes.c_void_p) -> "VerifiedModel":
        out = ctypes.c_void_p()
        _native.check(_native.lib().modelseal_model_info(handle, ctypes.byref(out)))
        info = json.loads(_native.take_string(out))
        self = object.__new__(cls)
        object.__setattr__(self, "_info", info)
        object.__setattr__(self, "_handle", handle)  # last: from here on __del__ frees it
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a VerifiedModel cannot be changed")

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None and handle.value and _native._lib is not None:
            _native._lib.modelseal_model_free(handle)

    def __reduce__(self) -> Any:
        raise TypeError("a VerifiedModel cannot be pickled: verify the model in the other process")

    def __copy__(self) -> "VerifiedModel":
        return self

    def __deepcopy__(self, memo: Any) -> "VerifiedModel":
        return self

    def __repr__(self) -> str:
        return f"<modelseal.VerifiedModel {self.path!r} {self.root_digest} ({len(self.files)} files)>"

    @property
    def path(self) -> str:
        """The model directory or file, as given to :func:`verify`."""
        return str(self._info["model"])

    @property
    def signature(self) -> str:
        """The signature file that was verified."""
        return str(self._info["signature"])

    @property
    def model_name(self) -> str:
        """The name the signer gave the model (informational; the policy checks the expected one)."""
        return str(self._info["model_name"])

    @property
    def root_digest(self) -> str:
        """``"sha256:<hex>"``: the OMS root digest of the verified manifest."""
        return str(self._info["root_digest"])

    @property
    def signers(self) -> Tuple[Signer, ...]:
        """The signatures that counted, in the order the policy took them."""
        return tuple(Signer(s["id"], s["keyid"]) for s in self._info["signers"])

    @property
    def files(self) -> Tuple[str, ...]:
        """The listed files (paths relative to the model, sorted), each once."""
        return tuple(self._info["files"])

    @property
    def resources(self) -> Tuple[Resource, ...]:
        """The signed manifest's entries, in manifest order."""
        return tuple(Resource(r["name"], r["digest"]) for r in self._info["resources"])

    @property
    def single_file(self) -> bool:
        """Whether the model is one file (then :attr:`files` holds its base name) rather than a folder."""
        return bool(self._info["single_file"])

    @property
    def files_checked(self) -> bool:
        """Whether every file on disk was hashed and matched by :func:`verify` (False with
        ``signature_only=True``: then each file is checked when it is opened or read)."""
        return bool(self._info["files_checked"])

    def read(self, name: StrPath) -> bytes:
        """The content of the listed file `name` (relative to the model), read once: the returned
        bytes are exactly those that were hashed and matched the signature.

        Raises :class:`NotTrusted` if the file is not listed or does not match,
        :class:`UsageError` for a path that is not inside the model (``..``, absolute).
        """
        data = ctypes.c_void_p()
        size = ctypes.c_size_t()
        status = _native.lib().modelseal_read_verified(self._handle, _native.path_arg(name, "name"),
                                                       ctypes.byref(data), ctypes.byref(size))
        _native.check(status)
        return _native.take_bytes(data, size.value)

    def open_fd(self, name: StrPath) -> int:
        """A read-only descriptor (close-on-exec, offset 0) of the listed file `name`, whose content
        was hashed through this very descriptor and matched. The caller closes it."""
        fd = ctypes.c_int(-1)
        status = _native.lib().modelseal_open_verified(self._handle, _native.path_arg(name, "name"),
                                                       ctypes.byref(fd))
        _native.check(status)
        return fd.value

    def open(self, name: StrPath, buffering: int = -1) -> Union[io.BufferedReader, io.FileIO]:
        """A binary file object (``"rb"``) over the verified descriptor of the listed file `name`:
        no second open by path. ``f.fileno()`` can be given to :func:`mmap.mmap`. With
        ``buffering=0`` the raw :class:`io.FileIO` is returned.

        Another writer may still change the file after it was checked; a mapping would then see
        the change (see modelseal-preload(8) for the mitigation).
        """
        if buffering == 1 or buffering < -1:
            raise UsageError("buffering must be -1 (default), 0 (raw) or a buffer size > 1")
        fd = self.open_fd(name)
        try:
            raw = io.FileIO(fd, "rb", closefd=True)
        except BaseException:
            os.close(fd)
            raise
        raw.name = os.fsdecode(name)  # type: ignore[misc]
        if buffering == 0:
            return raw
        return io.BufferedReader(raw, buffering if buffering > 1 else io.DEFAULT_BUFFER_SIZE)

    def check_file(self, name: StrPath, fd: int) -> None:
        """Checks an already open regular file `fd` (hashed with pread: its offset is unchanged)
        against the signature's entry for `name`. Raises :class:`NotTrusted` if it does not match."""
        status = _native.lib().modelseal_check_fd(self._handle, _native.path_arg(name, "name"), int(fd))
        _native.check(status)


def verify(path: StrPath, policy: Optional[StrPath] = None, public_key: Optional[StrPath] = None, *,
           signature: Optional[StrPath] = None, model_name: Optional[str] = None,
           ignore: Iterable[StrPath] = (), signature_only: bool = False,
           insecure_ignore_unlisted_files: bool = False, insecure_allow_symlinks: bool = False,
           threads: int = 0, age_identity: Optional[StrPath] = None) -> VerifiedModel:
    """Verifies the model directory or file `path` and returns the :class:`VerifiedModel`.

    Trust comes from exactly one of `policy` (a trust policy file, modelseal-policy(5), for any
    signer kind the library supports) or `public_key` (a PEM public key file: a one-key policy, as
    ``modelseal verify -p KEY.pub``). The signature is ``path/model.sig`` (``FILE.sig`` for a
    single file) unless `signature` names it.

    Unless `signature_only`, every file on disk is hashed and must match: none missing, none
    changed, none unlisted (except paths in `ignore`, or any with the insecure option). With
    `signature_only` only the signature is authenticated, and each file is checked as it is
    opened or read. `model_name` is the name the model must have been signed as, for policies
    that scope keys to models. `threads` is the number of hashing threads (0: one per core).
    The GIL is released while hashing. With `age_identity` (an age identity file), an encrypted
    model's ``NAME.age`` files are decrypted in memory as they are hashed (``verify -i``), and the
    returned model's reads and opens give ``NAME``'s checked plaintext from ``NAME.age``.

    Raises :class:`NotTrusted` (with the message ``modelseal verify`` prints for the same model),
    :class:`UsageError` or :class:`ModelsealOSError`.
    """
    if policy is not None and public_key is not None:
        raise UsageError("use either policy or public_key, not both")
    if policy is None and public_key is None:
        raise UsageError("no trusted key given", "pass public_key=KEY.pub or policy=FILE")
    if not isinstance(threads, int) or not 0 <= threads <= 1024:
        raise UsageError("threads must be an int from 0 (one per core) to 1024")
    l = _native.lib()
    model_b = _native.path_arg(path, "path")
    pol = ctypes.c_void_p()
    if policy is not None:
        status = l.modelseal_policy_load(_native.path_arg(policy, "policy"), ctypes.byref(pol))
    else:
        status = l.modelseal_policy_from_key(_native.path_arg(public_key, "public_key"),  # type: ignore[arg-type]
                                             ctypes.byref(pol))
    _native.check(status)
    try:
        ignores = _native.CStringList(_paths(ignore, "ignore"))
        opts = _native.VerifyOptions()
        opts.size = ctypes.sizeof(opts)
        opts.flags = ((_native.VERIFY_SIGNATURE_ONLY if signature_only else 0)
                      | (_native.VERIFY_INSECURE_IGNORE_UNLISTED_FILES if insecure_ignore_unlisted_files else 0)
                      | (_native.VERIFY_INSECURE_ALLOW_SYMLINKS if insecure_allow_symlinks else 0))
        opts.threads = threads
        opts.signature = _native.path_arg(signature, "signature") if signature is not None else None
        opts.model_name = model_name.encode() if model_name is not None else None
        opts.ignore = ignores.pointer()
        opts.age_identity = _native.path_arg(age_identity, "age_identity") if age_identity is not None else None
        handle = ctypes.c_void_p()
        status = l.modelseal_verify_with(pol, model_b, ctypes.byref(opts), ctypes.byref(handle))
        _native.check(status)
    finally:
        l.modelseal_policy_free(pol)
    try:
        return VerifiedModel._adopt(handle)
    except BaseException:
        l.modelseal_model_free(handle)
        raise


@dataclass(frozen=True)
class Finding:
    """What the scanner found: ``what`` (e.g. ``"global posix.system"``), its ``severity``
    (critical, high, medium, low), its byte ``offset``, and the ``member`` of a container
    (zip or tar member, nested pickle) it is in, or None."""

    what: str
    severity: str
    offset: int
    member: Optional[str] = None


@dataclass(frozen=True)
class FileScan:
    """The scan of one file: its detected ``format`` (by content, e.g. ``"pickle"``,
    ``"pytorch-zip"``, ``"safetensors"``), ``verdict`` (``"safe"``, ``"unsafe"``, ``"unknown"``:
    a format that holds no code), ``findings``, ``error`` when it could not be read or parsed, and
    the archive ``members`` it read (zip, tar; ``"outer/inner"`` when nested)."""

    path: str
    format: str
    verdict: str
    findings: Tuple[Finding, ...]
    error: Optional[str] = None
    members: Tuple[str, ...] = ()

    @property
    def blocks_trust(self) -> bool:
        """Unsafe, or not scanned (an error): the file must not be loaded."""
        return self.verdict == "unsafe" or self.error is not None


@dataclass(frozen=True)
class ScanReport:
    """What :func:`scan` found, per file (sorted by path). ``raw`` is the JSON report of
    ``modelseal scan --json`` (schemas/scan-report.schema.json)."""

    files: Tuple[FileScan, ...]
    raw: Dict[str, Any]

    @property
    def blocking(self) -> Tuple[FileScan, ...]:
        """The files that must stop the model from being loaded."""
        return tuple(f for f in self.files if f.blocks_trust)

    def check(self) -> None:
        """Raises :class:`UnsafeContent` naming the first blocking file, if any."""
        bad = self.blocking
        if not bad:
            return
        f = bad[0]
        # As `modelseal sign` words its refusal: the first finding, else why it could not be parsed.
        why = f"{f.findings[0].severity} {f.findings[0].what}" if f.findings else (f.error or "unsafe")
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise UnsafeContent(_one_line(f"unsafe content ({f.format}: {why}): {f.path}{more}"),
                            "see the findings with 'modelseal scan'", report=self)

    @classmethod
    def _from_json(cls, text: str) -> "ScanReport":
        raw = json.loads(text)
        files = tuple(
            FileScan(path=f["path"], format=f["format"], verdict=f["verdict"],
                     findings=tuple(Finding(x["what"], x["severity"], int(x["offset"]), x.get("member"))
                                    for x in f.get("findings", ())),
                     error=f.get("error"), members=tuple(f.get("members", ())))
            for f in raw["files"])
        return cls(files=files, raw=raw)


def scan(path: StrPath, *more: StrPath) -> ScanReport:
    """Scans files or folders (recursively) for code injection, by content, as ``modelseal scan``:
    pickles of every protocol, PyTorch checkpoints, NumPy, Keras, and validates safetensors and GGUF
    headers. Returns the :class:`ScanReport`; call its :meth:`~ScanReport.check` to raise
    :class:`UnsafeContent`. Files that cannot be read are in the report with an ``error``.

    This scans files by path, not verified content; :func:`modelseal.torch.load` scans the
    verified descriptor itself.
    """
    paths = _native.CStringList([_native.path_arg(p, "path") for p in (path, *more)])
    out = ctypes.c_void_p()
    _native.check(_native.lib().modelseal_scan(paths.pointer(), ctypes.byref(out)))
    return ScanReport._from_json(_native.take_string(out))


def _scan_fd(fd: int, display_name: str) -> ScanReport:
    out = ctypes.c_void_p()
    _native.check(_native.lib().modelseal_scan_fd(int(fd), os.fsencode(display_name), ctypes.byref(out)))
    return ScanReport._from_json(_native.take_string(out))


@dataclass(frozen=True)
class Signed:
    """What :func:`sign` wrote: the ``signature`` file, the model's ``root_digest``
    (``"sha256:<hex>"``) and the number of ``resources`` in the manifest."""

    signature: str
    root_digest: str
    resources: int


def sign(path: StrPath, key: Union[StrPath, Sequence[StrPath]], *, passphrase_file: Optional[StrPath] = None,
         signature: Optional[StrPath] = None, model_name: Optional[str] = None, ignore: Iterable[StrPath] = (),
         allow_symlinks: bool = False, shard_size: int = 0, insecure_allow_unsafe_content: bool = False,
         threads: int = 0) -> Signed:
    """Signs the model directory or file `path`, as ``modelseal sign``: with every key in `key`
    (PKCS#8 private key files or ``pkcs11:`` URIs; one signature each), after scanning every file
    (unsafe content raises :class:`NotTrusted` unless `insecure_allow_unsafe_content`); the
    signature is verified before it is written, atomically, to ``path/model.sig`` (``FILE.sig``)
    or `signature`.

    An encrypted key's passphrase is the first line of `passphrase_file`, or
    ``$MODELSEAL_PASSPHRASE``; there is never a prompt. `shard_size` > 0 signs shards of that many
    bytes (the OMS ``shards`` serialization).
    """
    keys = _paths(key, "key")
    if not keys:
        raise UsageError("no signing key given")
    if not isinstance(shard_size, int) or shard_size < 0:
        raise UsageError("shard_size must be an int >= 0")
    if not isinstance(threads, int) or not 0 <= threads <= 1024:
        raise UsageError("threads must be an int from 0 (one per core) to 1024")
    key_list = _native.CStringList(keys)
    ignores = _native.CStringList(_paths(ignore, "ignore"))
    opts = _native.SignOptions()
    opts.size = ctypes.sizeof(opts)
    opts.flags = ((_native.SIGN_ALLOW_SYMLINKS if allow_symlinks else 0)
                  | (_native.SIGN_INSECURE_ALLOW_UNSAFE_CONTENT if insecure_allow_unsafe_content else 0))
    opts.threads = threads
    opts.signature = _native.path_arg(signature, "signature") if signature is not None else None
    opts.model_name = model_name.encode() if model_name is not None else None
    opts.ignore = ignores.pointer()
    opts.passphrase_file = _native.path_arg(passphrase_file, "passphrase_file") if passphrase_file is not None else None
    opts.shard_size = shard_size
    out = ctypes.c_void_p()
    _native.check(_native.lib().modelseal_sign(_native.path_arg(path, "path"), key_list.pointer(),
                                               ctypes.byref(opts), ctypes.byref(out)))
    r = json.loads(_native.take_string(out))
    return Signed(signature=r["signature"], root_digest=r["root_digest"], resources=int(r["resources"]))


def __getattr__(name: str) -> Any:
    # modelseal.torch is imported on first use: `import modelseal` never imports torch.
    if name == "torch":
        import importlib
        return importlib.import_module(".torch", __name__)
    raise AttributeError(f"module 'modelseal' has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted(list(globals()) + ["torch"])
