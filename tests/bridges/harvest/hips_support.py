"""A HiPS node on 127.0.0.1 serving two real surveys, and the lake's app served by uvicorn.

The ``properties`` follow HiPS 1.0 §4.4.1 for CDS/P/GALEXGR6/AIS/FUV and CDS/P/SDSS9/r:
identifiers, titles and HiPS parameters as CDS publishes them, band edges and observing
dates from the missions' documentation, ``moc_sky_fraction`` from the real ``Moc.fits``
files in tests/data/moc/ (tests/data/README.md).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tests.conftest import DATA

GALEX_MOC = DATA / "moc" / "P-GALEXGR6-AIS-FUV.fits"
SDSS_MOC = DATA / "moc" / "P-SDSS9-r.fits"
GALEX_DID = "ivo://CDS/P/GALEXGR6/AIS/FUV"
SDSS_DID = "ivo://CDS/P/SDSS9/r"
GALEX_PATH = "GALEX/GR6-03-2014/AIS-FUV"
SDSS_PATH = "SDSS/DR9/band-r"


def galex_properties(root: str) -> str:
    """The properties of the GALEX GR6 AIS far-UV survey, served under ``root``."""
    return f"""\
# HiPS properties of CDS/P/GALEXGR6/AIS/FUV
creator_did          = {GALEX_DID}
obs_collection       = GALEX GR6 AIS
obs_title            = GALEX GR6 AIS (until March 2014) - FUV
obs_description      = Galaxy Evolution Explorer All-sky Imaging Survey, GR6/GR7, far-UV band
obs_ack              = GALEX was operated for NASA by the California Institute of Technology
prov_progenitor      = MAST GALEX GR6/GR7 AIS intensity maps
prov_progenitor      = Coadded by CDS with Hipsgen
bib_reference        = 2005ApJ...619L...1M
obs_regime           = UV
em_min               = 1.344e-7
em_max               = 1.786e-7
t_min                = 52757
t_max                = 54980
client_category      = Image/UV/GALEX
dataproduct_type     = image
hips_version         = 1.4
hips_creation_date   = 2014-10-24T14:38Z
hips_release_date    = 2017-02-27T14:45Z
hips_builder         = Aladin/HipsGen v9.505
hips_frame           = equatorial
hips_order           = 8
hips_tile_width      = 512
hips_tile_format     = png fits
hips_pixel_bitpix    = -32
hips_pixel_cut       = -0.0003 0.003
hips_estsize         = 25000000
hips_status          = public master clonableOnce
hips_service_url     = {root}/{GALEX_PATH}
hips_service_url_1   = {root}/mirror/{GALEX_PATH}
hips_status_1        = public mirror clonableOnce
moc_sky_fraction     = 0.6821
"""


def sdss_properties(root: str) -> str:
    """The properties of the SDSS DR9 r-band survey, served under ``root``."""
    return f"""\
# HiPS properties of CDS/P/SDSS9/r
creator_did          = {SDSS_DID}
obs_collection       = SDSS9
obs_title            = SDSS9 r
obs_description      = Sloan Digital Sky Survey, Data Release 9, r band
prov_progenitor      = SDSS DR9 imaging frames
bib_reference        = 2012ApJS..203...21A
obs_regime           = Optical
em_min               = 5.38e-7
em_max               = 7.23e-7
t_min                = 51075
t_max                = 55200
client_category      = Image/Optical/SDSS9
dataproduct_type     = image
hips_version         = 1.4
hips_release_date    = 2019-03-06T10:47Z
hips_frame           = equatorial
hips_order           = 11
hips_tile_width      = 512
hips_tile_format     = jpeg fits
hips_status          = public master clonableOnce
hips_service_url     = {root}/{SDSS_PATH}
moc_sky_fraction     = 0.3624
"""


class HipsNode:
    """A HiPS node: a directory served over HTTP, with faults a test may inject."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.faults: dict[str, int] = {}  # path -> HTTP status to answer instead
        self.stalls: dict[str, float] = {}  # path -> seconds to wait before answering
        handler = partial(_Handler, node=self, directory=str(root))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """The node's root URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def write(self, path: str, content: str | bytes) -> None:
        """Serve ``content`` at ``path``."""
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            target.write_text(content, encoding="utf-8")
        else:
            target.write_bytes(content)

    def publish(self, *, galex: bool = True, sdss: bool = True) -> str:
        """Both surveys' directories and a HiPS list of those asked for; the list's URL."""
        self.write(f"{GALEX_PATH}/properties", galex_properties(self.url))
        self.write(f"{GALEX_PATH}/Moc.fits", GALEX_MOC.read_bytes())
        self.write(f"{SDSS_PATH}/properties", sdss_properties(self.url))
        self.write(f"{SDSS_PATH}/Moc.fits", SDSS_MOC.read_bytes())
        records = [galex_properties(self.url)] * galex + [sdss_properties(self.url)] * sdss
        self.write("hipslist", "\n".join(records))
        return f"{self.url}/hipslist"

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


class _Handler(SimpleHTTPRequestHandler):
    def __init__(self, *args: Any, node: HipsNode, **kwargs: Any) -> None:
        self.node = node
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].lstrip("/")
        if path in self.node.stalls:
            time.sleep(self.node.stalls[path])
        if path in self.node.faults:
            self.send_error(self.node.faults[path])
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


def free_port() -> int:
    """A port of 127.0.0.1 nobody listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """An ASGI app served by uvicorn in a thread on 127.0.0.1; its root URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            msg = "uvicorn did not start"
            raise RuntimeError(msg)
        time.sleep(0.05)
    try:
        httpx.get(f"{url}/health", timeout=10).raise_for_status()
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
