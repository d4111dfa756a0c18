"""Signed checkpoints of the audit chain's head, kept outside the database (rules §10).

A checkpoint says "the chain had COUNT entries and its head hash was HASH at TIME", signed
with an Ed25519 key held in a file the database never sees. Checkpoints are appended as
JSON lines to a file (and written to the log) that operators ship elsewhere; verifying
the chain against them catches removed last entries, an emptied log and a chain rewritten
with recomputed hashes, which the chain alone cannot show.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from flask import current_app
from sqlalchemy.orm import Session

from registry import clock
from registry.audit.operations import (
    CheckpointRef,
    Finding,
    VerifyResult,
    chain_head,
    verify_chain,
)
from registry.db import canonical_json

log = logging.getLogger("registry.audit.checkpoint")

KEY_FILE_NAME = "audit-signing-key.pem"
CHECKPOINT_FILE_NAME = "audit-checkpoints.jsonl"


def signing_key_path() -> Path:
    configured = current_app.config.get("AUDIT_SIGNING_KEY_FILE")
    return Path(configured) if configured else Path(current_app.instance_path) / KEY_FILE_NAME


def checkpoint_path() -> Path:
    configured = current_app.config.get("AUDIT_CHECKPOINT_FILE")
    if configured:
        return Path(configured)
    return Path(current_app.instance_path) / CHECKPOINT_FILE_NAME


def load_or_create_signing_key(path: Path | None = None) -> Ed25519PrivateKey:
    """The private key from its file; generated there (mode 0600) on first use."""
    path = path or signing_key_path()
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".audit-key-")  # 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)  # atomic: never overwrites a key another process made
        finally:
            os.unlink(tmp)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return loaded


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key from a PEM file (or the public half of a private key file)."""
    data = path.read_bytes()
    if b"PRIVATE KEY" in data:
        private = serialization.load_pem_private_key(data, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 key")
        return private.public_key()
    public = serialization.load_pem_public_key(data)
    if not isinstance(public, Ed25519PublicKey):
        raise ValueError(f"{path} does not hold an Ed25519 public key")
    return public


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class Checkpoint:
    count: int
    head_hash: str
    time: str
    key_id: str
    signature: str

    def signed_part(self) -> bytes:
        return _signed_bytes(self.count, self.head_hash, self.time, self.key_id)

    def ref(self) -> CheckpointRef:
        return CheckpointRef(self.count, self.head_hash, self.time)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def _signed_bytes(count: int, head_hash: str, time: str, kid: str) -> bytes:
    return canonical_json(
        {"count": count, "head_hash": head_hash, "time": time, "key_id": kid}
    ).encode()


def make_checkpoint(session: Session, key: Ed25519PrivateKey) -> Checkpoint:
    """Sign the current head of the sealed chain."""
    count, head = chain_head(session)
    kid = key_id(key.public_key())
    time = clock.now().isoformat()
    signature = key.sign(_signed_bytes(count, head, time, kid))
    return Checkpoint(count, head, time, kid, base64.b64encode(signature).decode())


def write_checkpoint(session: Session) -> Checkpoint:
    """Sign the head, append it to the checkpoint file (fsynced) and log it."""
    checkpoint = make_checkpoint(session, load_or_create_signing_key())
    path = checkpoint_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = checkpoint.to_json() + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    log.info("audit checkpoint %s", checkpoint.to_json())
    return checkpoint


def _read_line(line: str, where: str, public_key: Ed25519PublicKey,
               expected_kid: str) -> Checkpoint | Finding:
    """One checkpoint line: the checkpoint if its signature holds, else what is wrong."""
    try:
        data: dict[str, Any] = json.loads(line)
        checkpoint = Checkpoint(int(data["count"]), str(data["head_hash"]),
                                str(data["time"]), str(data["key_id"]),
                                str(data["signature"]))
        signature = base64.b64decode(checkpoint.signature, validate=True)
    except (ValueError, KeyError, TypeError):
        return Finding("bad_signature", f"{where} cannot be read")
    if checkpoint.key_id != expected_kid:
        return Finding(
            "bad_signature",
            f"{where} (count {checkpoint.count}, {checkpoint.time}) is signed by an "
            f"unknown key {checkpoint.key_id!r}")
    try:
        public_key.verify(signature, checkpoint.signed_part())
    except InvalidSignature:
        return Finding(
            "bad_signature",
            f"{where} (count {checkpoint.count}, {checkpoint.time}) has a bad "
            "signature (altered or forged)")
    return checkpoint


def read_checkpoints(path: Path, public_key: Ed25519PublicKey
                     ) -> tuple[list[Checkpoint], list[Finding]]:
    """The checkpoints in ``path`` whose signatures hold, and findings for those that do not."""
    good: list[Checkpoint] = []
    bad: list[Finding] = []
    if not path.exists():
        return good, bad
    expected_kid = key_id(public_key)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            read = _read_line(line, f"checkpoint at line {number} of {path}", public_key,
                              expected_kid)
            if isinstance(read, Checkpoint):
                good.append(read)
            else:
                bad.append(read)
    return good, bad


def _lines_from_the_end(path: Path, block: int = 64 * 1024) -> Iterator[str]:
    """The file's lines, last first, reading only as far back as the caller goes."""
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        position, tail = handle.tell(), b""
        while position > 0:
            step = min(block, position)
            position -= step
            handle.seek(position)
            chunk = handle.read(step) + tail
            lines = chunk.split(b"\n")
            tail = lines.pop(0)  # may continue in the block before
            for line in reversed(lines):
                yield line.decode("utf-8", errors="replace")
        yield tail.decode("utf-8", errors="replace")


def newest_checkpoint(path: Path, public_key: Ed25519PublicKey
                      ) -> tuple[Checkpoint | None, list[Finding]]:
    """The last checkpoint in ``path`` whose signature holds, reading from the end of the
    file (a year of one-a-minute checkpoints is half a million lines), and findings for the
    lines after it that do not hold."""
    bad: list[Finding] = []
    if not path.exists():
        return None, bad
    expected_kid = key_id(public_key)
    for line in _lines_from_the_end(path):
        if not line.strip():
            continue
        read = _read_line(line, f"checkpoint line {line.strip()[:40]!r}… of {path}",
                          public_key, expected_kid)
        if isinstance(read, Checkpoint):
            return read, bad
        bad.append(read)
    return None, bad


@dataclass
class ChainReport:
    """What ``registry audit verify`` and the staff page's "Verify the audit chain" found."""

    result: VerifyResult
    checkpoints: list[Checkpoint]
    problems: list[Finding]  # checkpoint lines that do not hold (bad_signature)
    start: CheckpointRef | None = None
    cannot_check: str | None = None  # checkpoints exist but there is no key to check them

    @property
    def findings(self) -> list[Finding]:
        return self.problems + self.result.findings

    @property
    def ok(self) -> bool:
        return self.cannot_check is None and not self.findings

    @property
    def newest_checkpoint(self) -> Checkpoint | None:
        return max(self.checkpoints, key=lambda c: c.count, default=None)

    def summary(self) -> str:
        if self.start is not None:
            return (f"{self.result.checked} sealed entries checked after checkpoint seq "
                    f"{self.start.count} of {self.start.time} (up to it: its head and the "
                    f"number of entries; --full reads them all again), "
                    f"{self.result.unsealed} unsealed entries")
        return (f"{self.result.checked} sealed entries checked, {len(self.checkpoints)} "
                f"signed checkpoints, {self.result.unsealed} unsealed entries")


def verify_log(session: Session, *, checkpoint_file: Path | None = None,
               public_key_file: Path | None = None,
               since_last_checkpoint: bool = False, workers: int = 1) -> ChainReport:
    """Check the hash chain against the signed checkpoints (the configured files by default).

    The one verification both the command line and the staff pages run: the whole chain
    against every checkpoint, or (``since_last_checkpoint``) only what came after the newest
    checkpoint whose signature holds, which reads one line of the file and the entries
    sealed since (the whole chain when there is no such checkpoint). ``workers``: processes
    a long walk is split across (the command line's; they read only what is committed).
    """
    path = checkpoint_file or checkpoint_path()
    key_path = public_key_file or signing_key_path()
    good: list[Checkpoint] = []
    problems: list[Finding] = []
    cannot_check = None
    if path.exists():
        if not key_path.exists():
            cannot_check = (f"Cannot check the checkpoints in {path}: no key at {key_path} "
                            "(give --public-key).")
        elif since_last_checkpoint:
            newest, problems = newest_checkpoint(path, load_public_key(key_path))
            good = [newest] if newest is not None else []
        else:
            good, problems = read_checkpoints(path, load_public_key(key_path))
    start = max(good, key=lambda c: c.count).ref() if since_last_checkpoint and good else None
    grace = timedelta(seconds=int(current_app.config["AUDIT_SEAL_GRACE_SECONDS"]))
    result = verify_chain(session, [c.ref() for c in good], start=start, grace=grace,
                          workers=workers)
    return ChainReport(result, good, problems, start, cannot_check)
