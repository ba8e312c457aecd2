"""Object stores for the files the pipeline keeps: a local folder, or an S3 prefix through boto3. Raw pages land
in one, export files are delivered to another. Every write is atomic."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit


class ObjectStore(Protocol):
    """A flat key -> bytes store. Every write is atomic: a reader sees the old object or the new, never half."""

    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes | None: ...
    def keys(self, prefix: str) -> list[str]: ...
    def delete(self, key: str) -> None: ...
    def describe(self) -> str: ...


def put_json(store: ObjectStore, key: str, value: dict) -> None:
    store.put(key, json.dumps(value, sort_keys=True, indent=1).encode())


def get_json(store: ObjectStore, key: str) -> dict | None:
    raw = store.get(key)
    return None if raw is None else json.loads(raw)


class LocalStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"key escapes the store's root: {key!r}")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def keys(self, prefix: str) -> list[str]:
        """The keys under a folder-like prefix (ending in /), sorted; never a write's temporary file."""
        folder = self._path(prefix)
        if not folder.is_dir():
            return []
        root = self.root.resolve()
        return sorted(str(p.relative_to(root)) for p in folder.rglob("*")
                      if p.is_file() and not p.name.endswith(".tmp"))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def describe(self) -> str:
        return str(self.root)


class S3Store:
    """Pages as S3 objects under s3://bucket/prefix/. A put is one complete object, so it is atomic."""

    def __init__(self, uri: str, endpoint_url: str | None = None, client=None):
        parts = urlsplit(uri)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"expected an s3://bucket/prefix URI, got {uri!r}")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        if client is None:
            import boto3

            client = boto3.client("s3", endpoint_url=endpoint_url)
        self.client = client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def get(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None

    def keys(self, prefix: str) -> list[str]:
        found = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                          Prefix=self._key(prefix)):
            found.extend(o["Key"] for o in page.get("Contents", []))
        strip = len(self.prefix) + 1 if self.prefix else 0
        return sorted(k[strip:] for k in found)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def store_from_settings(local_dir: str, s3_uri: str | None = None, s3_endpoint_url: str | None = None) -> ObjectStore:
    return S3Store(s3_uri, endpoint_url=s3_endpoint_url) if s3_uri else LocalStore(local_dir)
