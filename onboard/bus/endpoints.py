"""Where the bus lives, and the optional CURVE keys of a bus that crosses hosts.

One URL names a bus.  The proxy binds two sockets derived from it: publishers connect to
the XSUB side, subscribers to the XPUB side.

    ipc:///run/lunarelay/bus   ->  ipc:///run/lunarelay/bus.pub  and  ipc:///run/lunarelay/bus.sub
    tcp://10.0.0.5:7100        ->  tcp://10.0.0.5:7100           and  tcp://10.0.0.5:7101

So moving a constellation across hosts is a change of URL, not of code.  CURVE keys are
ZeroMQ certificate files (``zmq.auth.create_certificates``): the proxy holds the server's
secret certificate and a directory of the client public certificates it accepts; a
client holds its own secret certificate and the server's public one.  ``CurveKeyDir`` keeps
one bus's certificates in one directory, the layout the executive takes.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import tempfile

import zmq
import zmq.auth

from onboard.errors import LunarelayError

BUS_URL_ENV = "LUNARELAY_BUS"


class BusConfigError(LunarelayError):
    pass


def default_url() -> str:
    return os.environ.get(BUS_URL_ENV) or f"ipc://{tempfile.gettempdir()}/lunarelay-{os.getuid()}-bus"


def bus_directory(bus_url: str) -> str | None:
    """The directory of an ipc:// bus socket (the run directory), else None."""
    if bus_url.startswith("ipc://"):
        return os.path.dirname(bus_url[len("ipc://"):]) or "."
    return None


def beside_bus(bus_url: str, name: str) -> str:
    """An ipc:// URL named ``name`` in the directory of an ipc:// bus (the run directory)."""
    if bus_url.startswith("ipc://"):
        return f"ipc://{os.path.join(os.path.dirname(bus_url[len('ipc://'):]), name)}"
    return f"ipc:///tmp/lunarelay-{name}"


def remove_ipc_file(url: str) -> None:
    """Remove the socket file of an ipc:// URL a closed socket was bound to (nothing else)."""
    if url.startswith("ipc://"):
        try:
            os.unlink(url[len("ipc://"):])
        except OSError:
            pass


@dataclasses.dataclass(frozen=True)
class BusEndpoints:
    publish: str        # the proxy's XSUB side: publishers connect here
    subscribe: str      # the proxy's XPUB side: subscribers connect here
    url: str

    @classmethod
    def from_url(cls, url: str | None = None) -> BusEndpoints:
        url = url or default_url()
        if url.startswith("ipc://"):
            return cls(url + ".pub", url + ".sub", url)
        if url.startswith("tcp://"):
            host, _, port = url[len("tcp://"):].rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65535:
                raise BusConfigError(f"bus URL {url!r}: expected tcp://HOST:PORT with PORT < 65535")
            return cls(url, f"tcp://{host}:{int(port) + 1}", url)
        raise BusConfigError(f"bus URL {url!r}: only ipc:// and tcp:// buses are supported")

    def bind_addresses(self) -> tuple[str, str]:
        """The addresses the proxy binds (a tcp host name becomes every interface)."""
        def bind(addr: str) -> str:
            if addr.startswith("tcp://"):
                host, _, port = addr[len("tcp://"):].rpartition(":")
                return f"tcp://{'*' if host not in ('127.0.0.1', 'localhost') else '127.0.0.1'}:{port}"
            return addr
        return bind(self.publish), bind(self.subscribe)


def _load(path: str | os.PathLike, want_secret: bool) -> tuple[bytes, bytes | None]:
    try:
        public, secret = zmq.auth.load_certificate(os.fspath(path))
    except (OSError, ValueError) as exc:
        raise BusConfigError(f"{path}: cannot load CURVE certificate: {exc}") from None
    if want_secret and secret is None:
        raise BusConfigError(f"{path}: is a public certificate; a secret certificate is needed")
    return public, secret


@dataclasses.dataclass(frozen=True)
class CurveClientKeys:
    public: bytes
    secret: bytes
    server_public: bytes

    @classmethod
    def from_files(cls, own_secret_file: str | os.PathLike, server_public_file: str | os.PathLike):
        public, secret = _load(own_secret_file, True)
        server_public, _ = _load(server_public_file, False)
        return cls(public, secret or b"", server_public)

    def apply(self, sock: zmq.Socket) -> None:
        sock.curve_publickey = self.public
        sock.curve_secretkey = self.secret
        sock.curve_serverkey = self.server_public


@dataclasses.dataclass(frozen=True)
class CurveServerKeys:
    public: bytes
    secret: bytes
    authorized_clients: pathlib.Path

    @classmethod
    def from_files(cls, secret_file: str | os.PathLike, authorized_dir: str | os.PathLike):
        public, secret = _load(secret_file, True)
        directory = pathlib.Path(authorized_dir)
        if not directory.is_dir():
            raise BusConfigError(f"{directory}: the directory of authorized client keys does not exist")
        return cls(public, secret or b"", directory)

    def apply(self, sock: zmq.Socket) -> None:
        sock.curve_server = True
        sock.curve_publickey = self.public
        sock.curve_secretkey = self.secret


@dataclasses.dataclass(frozen=True)
class CurveKeyDir:
    """The CURVE certificates of one bus, kept in one directory::

        server.key_secret   the proxy's certificate        server.key   its public half
        client.key_secret   the certificate local processes use
        authorized/         public certificates of every client the proxy accepts
    """

    path: pathlib.Path

    @classmethod
    def open(cls, path: str | os.PathLike) -> CurveKeyDir:
        keys = cls(pathlib.Path(path))
        for f in (keys.server_secret, keys.server_public, keys.client_secret, keys.authorized):
            if not f.exists():
                raise BusConfigError(f"{f}: missing from the CURVE key directory")
        return keys

    @property
    def server_secret(self) -> pathlib.Path:
        return self.path / "server.key_secret"

    @property
    def server_public(self) -> pathlib.Path:
        return self.path / "server.key"

    @property
    def client_secret(self) -> pathlib.Path:
        return self.path / "client.key_secret"

    @property
    def authorized(self) -> pathlib.Path:
        return self.path / "authorized"

    def client(self) -> CurveClientKeys:
        return CurveClientKeys.from_files(self.client_secret, self.server_public)

    def proxy_args(self) -> list[str]:
        return ["--curve-secret", str(self.server_secret), "--curve-clients", str(self.authorized),
                "--curve-client-secret", str(self.client_secret)]

    def module_args(self) -> list[str]:
        return ["--curve-secret", str(self.client_secret), "--curve-server", str(self.server_public)]

    @classmethod
    def create(cls, path: str | os.PathLike) -> CurveKeyDir:
        """New certificates for a bus (the client's public one authorized)."""
        directory = pathlib.Path(path)
        (directory / "authorized").mkdir(parents=True, exist_ok=True)
        zmq.auth.create_certificates(directory, "server")
        client_public, _ = zmq.auth.create_certificates(directory, "client")
        (directory / "authorized" / "client.key").write_bytes(pathlib.Path(client_public).read_bytes())
        return cls.open(directory)
