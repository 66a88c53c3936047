import gzip
import hashlib
import math
import zlib
from pathlib import Path

import numpy as np
import pytest
from astropy.coordinates import FK4, SkyCoord
from astropy.io import fits
from astropy.time import Time

from catalogue.coverage import Coverage
from catalogue.errors import InvalidInputError
from catalogue.fits import describe_fits, file_checksums, find_fits
from catalogue.obscore import parse_characterisation
from catalogue.region import Circle, Polygon, parse_stcs

IMAGES = Path(__file__).parent.parent / "data" / "images"
HORSEHEAD = IMAGES / "horsehead.fits"
COADD = IMAGES / "coadd_2exps_LANCZSOS3_noBkgSub_AL_block100.fits.gz"
SPEED_OF_LIGHT = 299_792_458.0


def sky_header(
    ctype=("RA---TAN", "DEC--TAN"), crval=(10.0, 20.0), cdelt=0.01, shape=(80, 100), **extra
):
    """A celestial WCS header for an image of ``shape`` (rows, columns) centred on ``crval``."""
    header = fits.Header()
    header["CTYPE1"], header["CTYPE2"] = ctype
    header["CRVAL1"], header["CRVAL2"] = crval
    header["CRPIX1"], header["CRPIX2"] = (shape[-1] + 1) / 2, (shape[-2] + 1) / 2
    header["CDELT1"], header["CDELT2"] = -cdelt, cdelt
    for key, value in extra.items():
        header[key.replace("_", "-")] = value
    return header


def write_image(path, header, shape=(80, 100)):
    fits.PrimaryHDU(np.zeros(shape, dtype=np.float32), header).writeto(path)
    return path


def describe(path):
    """describe_fits, checking on the way that the characterisation is valid ObsCore."""
    desc = describe_fits(path)
    assert parse_characterisation(desc.characterisation) == desc.characterisation
    return desc


def angular_distance(ra1, dec1, ra2, dec2):
    return SkyCoord(ra1, dec1, unit="deg").separation(SkyCoord(ra2, dec2, unit="deg")).deg


def centre_is_covered(desc):
    c = desc.characterisation
    moc = Coverage.from_region(desc.region, 10)
    centre = Coverage.from_region(Circle(c["s_ra"], c["s_dec"], 0.001), 10)
    return not moc.is_empty and moc.overlaps(centre)


# --- real images -----------------------------------------------------------------------------


def test_horsehead_footprint_surrounds_the_horsehead_nebula():
    desc = describe(HORSEHEAD)
    c = desc.characterisation
    # The header's TAN reference point is the centre pixel: CRVAL 85.274970, -2.458265.
    assert angular_distance(c["s_ra"], c["s_dec"], 85.274970, -2.458265) < 1e-4
    assert (c["s_xel1"], c["s_xel2"]) == (891, 893)
    # 891 x 893 pixels of about 1.01 arcsec: a 0.25 degree square, 0.353 degree diagonal.
    assert c["s_fov"] == pytest.approx(math.hypot(891, 893) * 0.000280, rel=0.01)
    assert len(desc.region.vertices) == 4
    for ra, dec in desc.region.vertices:
        distance = angular_distance(ra, dec, 85.274970, -2.458265)
        assert distance == pytest.approx(c["s_fov"] / 2, rel=1e-3)
    parsed = parse_stcs(c["s_region"])
    assert isinstance(parsed, Polygon)
    assert np.allclose(parsed.vertices, desc.region.vertices, atol=1e-7)
    assert centre_is_covered(desc)


def test_horsehead_time_and_provenance_come_from_the_header():
    c = describe(HORSEHEAD).characterisation
    t_min = Time("1990-12-22T13:49:00", scale="utc").mjd
    assert c["t_min"] == pytest.approx(t_min, abs=1e-9)
    # The DSS header writes "EXPOSURE = 65.0 /Observation: Exposure Minutes".
    assert c["t_exptime"] == 65 * 60
    assert c["t_max"] == pytest.approx(t_min + 65 / 1440, abs=1e-9)
    assert c["facility_name"] == "UK Schmidt - Doubl"
    assert c["instrument_name"] == "Photographic Plate"
    assert c["target_name"] == "data"
    assert c["dataproduct_type"] == "image"
    assert c["access_format"] == "application/fits"
    assert "calib_level" not in c
    assert "o_ucd" not in c


def test_horsehead_checksums_match_hashlib_and_zlib_over_the_file():
    data = HORSEHEAD.read_bytes()
    desc = describe(HORSEHEAD)
    assert desc.path == HORSEHEAD
    assert desc.bytes == len(data) == HORSEHEAD.stat().st_size
    assert desc.adler32 == f"{zlib.adler32(data):08x}"
    assert desc.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_gzipped_coadd_is_described_and_checksummed_as_stored():
    data = COADD.read_bytes()
    desc = describe(COADD)
    c = desc.characterisation
    assert (desc.bytes, desc.adler32, desc.md5) == (
        len(data),
        f"{zlib.adler32(data):08x}",
        hashlib.md5(data, usedforsecurity=False).hexdigest(),
    )
    assert (c["s_xel1"], c["s_xel2"]) == (348, 346)
    assert angular_distance(c["s_ra"], c["s_dec"], 54.0176, -35.26656) < 0.01
    # 348 x 346 pixels of 10 arcsec: a diagonal of about 1.36 degrees.
    assert c["s_fov"] == pytest.approx(math.hypot(348, 346) / 360, rel=0.01)
    assert c["t_exptime"] == 0.0
    assert "t_min" not in c
    assert centre_is_covered(desc)


def test_file_checksums_are_the_same_for_any_chunk_size():
    whole = file_checksums(HORSEHEAD)
    assert file_checksums(HORSEHEAD, chunk_size=1000) == whole
    assert file_checksums(HORSEHEAD, chunk_size=7) == whole


def test_file_checksums_pad_adler32_to_eight_hex_digits(tmp_path):
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    md5 = hashlib.md5(b"", usedforsecurity=False).hexdigest()
    assert file_checksums(empty) == (0, "00000001", md5)


# --- synthetic images: projections and awkward places ----------------------------------------


@pytest.mark.parametrize(
    "ctype", [("RA---TAN", "DEC--TAN"), ("RA---SIN", "DEC--SIN"), ("RA---CAR", "DEC--CAR")]
)
def test_projection_footprint_is_centred_on_the_reference_point(tmp_path, ctype):
    desc = describe(write_image(tmp_path / "image.fits", sky_header(ctype, (150.0, -30.0))))
    c = desc.characterisation
    assert c["s_ra"] == pytest.approx(150.0)
    assert c["s_dec"] == pytest.approx(-30.0)
    assert (c["s_xel1"], c["s_xel2"]) == (100, 80)
    # 100 x 80 pixels of 0.01 degrees, corners at the pixel edges.
    assert c["s_fov"] == pytest.approx(math.hypot(1.0, 0.8), rel=0.01)
    assert c["dataproduct_type"] == "image"
    assert len(desc.region.vertices) == 4
    assert centre_is_covered(desc)


def test_image_straddling_ra_zero_has_a_small_footprint_on_both_sides(tmp_path):
    header = sky_header(crval=(0.05, 10.0), cdelt=0.002)
    desc = describe(write_image(tmp_path / "zero.fits", header))
    c = desc.characterisation
    ras = [ra for ra, _ in desc.region.vertices]
    assert any(359.8 < ra < 360 for ra in ras)
    assert any(0 <= ra < 0.2 for ra in ras)
    assert c["s_ra"] == pytest.approx(0.05)
    assert c["s_fov"] == pytest.approx(math.hypot(0.2, 0.16), rel=0.01)
    assert centre_is_covered(desc)
    assert Coverage.from_region(desc.region, 10).sky_fraction < 1e-5


def test_image_near_the_north_pole_covers_the_pole(tmp_path):
    desc = describe(write_image(tmp_path / "pole.fits", sky_header(crval=(45.0, 89.8))))
    c = desc.characterisation
    assert c["s_dec"] == pytest.approx(89.8)
    assert c["s_fov"] < 1.5
    moc = Coverage.from_region(desc.region, 10)
    assert moc.overlaps(Coverage.from_region(Circle(0.0, 90.0, 0.001), 10))
    assert moc.sky_fraction < 1e-4
    assert centre_is_covered(desc)


def test_mirrored_image_gives_the_same_coverage(tmp_path):
    plain = describe(write_image(tmp_path / "plain.fits", sky_header()))
    mirrored_header = sky_header()
    mirrored_header["CDELT1"] = 0.01
    mirrored = describe(write_image(tmp_path / "mirrored.fits", mirrored_header))
    assert centre_is_covered(mirrored)
    a, b = Coverage.from_region(plain.region, 10), Coverage.from_region(mirrored.region, 10)
    assert a.contains(b)
    assert b.contains(a)


def test_galactic_image_is_converted_to_icrs(tmp_path):
    header = sky_header(("GLON-TAN", "GLAT-TAN"), (0.0, 0.0))
    desc = describe(write_image(tmp_path / "galactic.fits", header))
    c = desc.characterisation
    # The Galactic centre (l, b) = (0, 0) is at RA 266.405, Dec -28.936 (ICRS).
    assert angular_distance(c["s_ra"], c["s_dec"], 266.40499, -28.93617) < 1e-3
    assert c["s_region"].startswith("Polygon ICRS ")
    for ra, dec in desc.region.vertices:
        distance = angular_distance(ra, dec, 266.405, -28.936)
        assert distance == pytest.approx(c["s_fov"] / 2, rel=1e-3)
    assert centre_is_covered(desc)


def test_fk4_image_is_precessed_to_icrs(tmp_path):
    header = sky_header(RADESYS="FK4", EQUINOX=1950.0)
    c = describe(write_image(tmp_path / "fk4.fits", header)).characterisation
    expected = SkyCoord(10.0, 20.0, unit="deg", frame=FK4(equinox="B1950")).icrs
    assert angular_distance(c["s_ra"], c["s_dec"], expected.ra.deg, expected.dec.deg) < 1e-6
    assert angular_distance(c["s_ra"], c["s_dec"], 10.0, 20.0) > 0.5


def test_all_sky_car_image_has_no_footprint(tmp_path):
    header = sky_header(("RA---CAR", "DEC--CAR"), (0.0, 0.0), cdelt=1.0, shape=(190, 370))
    desc = describe(write_image(tmp_path / "allsky.fits", header, shape=(190, 370)))
    assert desc.region is None
    assert (desc.characterisation["s_xel1"], desc.characterisation["s_xel2"]) == (370, 190)
    assert not {"s_ra", "s_dec", "s_fov", "s_region"} & desc.characterisation.keys()


def test_sin_image_beyond_the_horizon_has_no_footprint(tmp_path):
    header = sky_header(("RA---SIN", "DEC--SIN"), (30.0, 10.0), cdelt=1.0, shape=(200, 200))
    desc = describe(write_image(tmp_path / "horizon.fits", header, shape=(200, 200)))
    assert desc.region is None
    assert (desc.characterisation["s_xel1"], desc.characterisation["s_xel2"]) == (200, 200)
    assert "s_ra" not in desc.characterisation


def test_image_without_wcs_has_pixel_counts_but_no_region(tmp_path):
    desc = describe(write_image(tmp_path / "plain.fits", fits.Header()))
    c = desc.characterisation
    assert desc.region is None
    assert (c["s_xel1"], c["s_xel2"]) == (100, 80)
    assert c["dataproduct_type"] == "image"
    assert not {"s_ra", "s_dec", "s_fov", "s_region", "em_xel"} & c.keys()


# --- time, labels and odd values -------------------------------------------------------------


def test_date_obs_and_exptime_give_the_time_interval(tmp_path):
    header = sky_header(DATE_OBS="2021-03-04T05:06:07.5", EXPTIME=300.0)
    c = describe(write_image(tmp_path / "timed.fits", header)).characterisation
    t_min = Time("2021-03-04T05:06:07.5", scale="utc").mjd
    assert c["t_min"] == pytest.approx(t_min, abs=1e-9)
    assert c["t_exptime"] == 300.0
    assert c["t_max"] == pytest.approx(t_min + 300 / 86400, abs=1e-9)


def test_date_obs_with_a_z_suffix_is_read_as_utc(tmp_path):
    header = sky_header(DATE_OBS="2021-03-04T05:06:07Z")
    c = describe(write_image(tmp_path / "zulu.fits", header)).characterisation
    assert c["t_min"] == pytest.approx(Time("2021-03-04T05:06:07", scale="utc").mjd)


def test_mjd_obs_wins_over_date_obs_and_mjd_end_over_exposure(tmp_path):
    header = sky_header(MJD_OBS=59000.25, DATE_OBS="2000-01-01", MJD_END=59000.5, EXPOSURE=10.0)
    c = describe(write_image(tmp_path / "mjd.fits", header)).characterisation
    assert (c["t_min"], c["t_max"], c["t_exptime"]) == (59000.25, 59000.5, 10.0)


def test_old_style_date_obs_with_time_obs_is_read(tmp_path):
    header = sky_header(DATE_OBS="21/03/95", TIME_OBS="12:00:00")
    c = describe(write_image(tmp_path / "old.fits", header)).characterisation
    assert c["t_min"] == pytest.approx(Time("1995-03-21T12:00:00", scale="utc").mjd)
    assert "t_max" not in c


def test_unparseable_header_values_are_ignored(tmp_path):
    header = sky_header(DATE_OBS="sometime in May", EXPTIME="long", OBJECT="   ", BUNIT=3)
    desc = describe(write_image(tmp_path / "odd.fits", header))
    dropped = {"t_min", "t_max", "t_exptime", "target_name", "o_ucd"}
    assert not dropped & desc.characterisation.keys()
    assert desc.region is not None


def test_end_before_start_falls_back_to_the_exposure(tmp_path):
    header = sky_header(MJD_OBS=59000.0, MJD_END=12.0, EXPTIME=8640.0)
    c = describe(write_image(tmp_path / "backwards.fits", header)).characterisation
    assert c["t_max"] == pytest.approx(59000.1)


def test_unparsable_cards_are_ignored(tmp_path):
    path = write_image(tmp_path / "cards.fits", sky_header(OBJECT="M31"))
    raw = path.read_bytes()
    end = raw.index(b"END" + b" " * 77)
    bad = b"DATE-OBS= 2020-01-xx garbage / junk".ljust(80) + b"EXPTIME = 1.2.3".ljust(80)
    path.write_bytes(raw[:end] + bad + raw[end : end + 80] + raw[end + 240 :])
    c = describe(path).characterisation
    assert "t_min" not in c
    assert "t_exptime" not in c
    assert c["target_name"] == "M31"
    assert c["s_ra"] == pytest.approx(10.0)


def test_labels_are_stripped_and_bunit_maps_to_obvious_ucds(tmp_path):
    header = sky_header(TELESCOP=" VLT ", INSTRUME="FORS2", OBJECT="NGC 253 ", BUNIT="ADU")
    c = describe(write_image(tmp_path / "labels.fits", header)).characterisation
    assert (c["facility_name"], c["instrument_name"], c["target_name"]) == (
        "VLT",
        "FORS2",
        "NGC 253",
    )
    assert c["o_ucd"] == "phot.count"


@pytest.mark.parametrize(
    ("bunit", "ucd"),
    [
        ("counts", "phot.count"),
        ("count", "phot.count"),
        ("JY/BEAM", "phot.flux.density"),
        ("Jy/beam", "phot.flux.density"),
        ("erg/s/cm2/A", None),
        ("", None),
    ],
)
def test_bunit_gives_o_ucd_only_when_obvious(tmp_path, bunit, ucd):
    header = sky_header(BUNIT=bunit)
    c = describe(write_image(tmp_path / "bunit.fits", header)).characterisation
    assert c.get("o_ucd") == ucd


# --- cubes -----------------------------------------------------------------------------------


def test_frequency_cube_is_a_cube_with_a_wavelength_range(tmp_path):
    header = sky_header(
        CTYPE3="FREQ", CRVAL3=1.4e9, CDELT3=1e6, CRPIX3=1.0, CUNIT3="Hz", BUNIT="Jy/beam"
    )
    desc = describe(write_image(tmp_path / "cube.fits", header, shape=(16, 80, 100)))
    c = desc.characterisation
    assert c["dataproduct_type"] == "cube"
    assert (c["s_xel1"], c["s_xel2"], c["em_xel"]) == (100, 80, 16)
    # Channel edges run from 1.4 GHz - 0.5 MHz to 1.4 GHz + 15.5 MHz.
    assert c["em_min"] == pytest.approx(SPEED_OF_LIGHT / (1.4e9 + 15.5e6))
    assert c["em_max"] == pytest.approx(SPEED_OF_LIGHT / (1.4e9 - 0.5e6))
    assert c["o_ucd"] == "phot.flux.density"
    assert c["s_ra"] == pytest.approx(10.0)
    assert centre_is_covered(desc)


def test_velocity_cube_has_spectral_bins_but_no_wavelength_range(tmp_path):
    header = sky_header(CTYPE3="VRAD", CRVAL3=0.0, CDELT3=1000.0, CRPIX3=1.0, CUNIT3="m/s")
    c = describe(write_image(tmp_path / "vcube.fits", header, shape=(16, 80, 100)))
    assert c.characterisation["em_xel"] == 16
    assert not {"em_min", "em_max"} & c.characterisation.keys()


def test_single_plane_cube_is_an_image(tmp_path):
    header = sky_header(CTYPE3="FREQ", CRVAL3=1.4e9, CDELT3=1e6, CRPIX3=1.0, CUNIT3="Hz")
    c = describe(write_image(tmp_path / "plane.fits", header, shape=(1, 80, 100)))
    assert c.characterisation["dataproduct_type"] == "image"


# --- containers: gzip and tile compression ---------------------------------------------------


def test_gzipped_fits_is_described_like_the_plain_file(tmp_path):
    header = sky_header(DATE_OBS="2021-03-04T05:06:07", TELESCOP="CFHT")
    plain = describe(write_image(tmp_path / "image.fits", header))
    packed = describe(write_image(tmp_path / "image.fits.gz", header))
    assert packed.characterisation == plain.characterisation
    assert packed.region == plain.region
    data = (tmp_path / "image.fits.gz").read_bytes()
    assert data[:2] == b"\x1f\x8b"
    assert (packed.bytes, packed.adler32) == (len(data), f"{zlib.adler32(data):08x}")


def test_tile_compressed_image_is_read_from_its_extension(tmp_path):
    primary = fits.PrimaryHDU(
        header=fits.Header([("TELESCOP", "Subaru"), ("DATE-OBS", "2020-02-02T02:02:02")])
    )
    image = fits.CompImageHDU(np.arange(8000, dtype=np.float32).reshape(80, 100), sky_header())
    path = tmp_path / "image.fz"
    fits.HDUList([primary, image]).writeto(path)
    desc = describe(path)
    c = desc.characterisation
    assert (c["s_xel1"], c["s_xel2"]) == (100, 80)
    assert c["s_ra"] == pytest.approx(10.0)
    assert c["facility_name"] == "Subaru"
    assert c["t_min"] == pytest.approx(Time("2020-02-02T02:02:02", scale="utc").mjd)
    assert desc.adler32 == f"{zlib.adler32(path.read_bytes()):08x}"
    assert centre_is_covered(desc)


def test_first_extension_with_a_celestial_wcs_is_described(tmp_path):
    hdus = [
        fits.PrimaryHDU(),
        fits.ImageHDU(np.zeros((5, 6), dtype=np.float32)),
        fits.ImageHDU(
            np.zeros((80, 100), dtype=np.float32),
            sky_header(("RA---TAN", "DEC--TAN"), (200.0, 40.0)),
        ),
    ]
    path = tmp_path / "mef.fits"
    fits.HDUList(hdus).writeto(path)
    c = describe(path).characterisation
    assert (c["s_xel1"], c["s_xel2"]) == (100, 80)
    assert c["s_ra"] == pytest.approx(200.0)


# --- broken files ----------------------------------------------------------------------------


def test_truncated_file_is_invalid_input(tmp_path):
    path = tmp_path / "cut.fits"
    path.write_bytes(HORSEHEAD.read_bytes()[:100_000])
    with pytest.raises(InvalidInputError, match=r"truncated FITS file: .*cut\.fits"):
        describe_fits(path)


def test_file_cut_inside_the_header_is_invalid_input(tmp_path):
    path = tmp_path / "cut.fits"
    path.write_bytes(HORSEHEAD.read_bytes()[:1000])
    with pytest.raises(InvalidInputError, match="truncated FITS file"):
        describe_fits(path)


def test_truncated_gzip_file_is_invalid_input(tmp_path):
    path = tmp_path / "cut.fits.gz"
    data = COADD.read_bytes()
    path.write_bytes(data[: len(data) * 9 // 10])
    with pytest.raises(InvalidInputError, match=r"truncated FITS file.*gzip"):
        describe_fits(path)


def test_corrupt_gzip_file_is_invalid_input(tmp_path):
    data = bytearray(COADD.read_bytes())
    data[5000:5100] = b"x" * 100
    path = tmp_path / "bad.fits.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidInputError, match="corrupt gzip stream"):
        describe_fits(path)


def test_header_without_end_card_is_invalid_input(tmp_path):
    path = tmp_path / "noend.fits"
    path.write_bytes(b"SIMPLE  =                    T".ljust(80) + b"BITPIX  = 8".ljust(2800))
    with pytest.raises(InvalidInputError, match="corrupt header"):
        describe_fits(path)


@pytest.mark.parametrize("content", [b"hello world\n" * 500, b"", b"\x89PNG\r\n" + bytes(4000)])
def test_non_fits_file_is_invalid_input(tmp_path, content):
    path = tmp_path / "notes.fits"
    path.write_bytes(content)
    with pytest.raises(InvalidInputError, match=r"not a FITS file: .*notes\.fits"):
        describe_fits(path)


def test_gzipped_non_fits_file_is_invalid_input(tmp_path):
    path = tmp_path / "notes.fits.gz"
    path.write_bytes(gzip.compress(b"just text\n" * 1000))
    with pytest.raises(InvalidInputError, match="not a FITS file"):
        describe_fits(path)


def test_missing_file_is_invalid_input(tmp_path):
    with pytest.raises(InvalidInputError, match="cannot read"):
        describe_fits(tmp_path / "absent.fits")


# --- finding files ---------------------------------------------------------------------------


def test_find_fits_walks_directories_in_sorted_order_and_ignores_other_files(tmp_path):
    names = [
        "b/deep/x.fits",
        "a.fit",
        "b/c.fits.gz",
        "b/d.fz",
        "e.fts",
        "f.fit.gz",
        "G.FITS",
        "notes.txt",
        "image.fits.bak",
        "table.csv",
        "b/deep/preview.png",
    ]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "dir.fits").mkdir()
    found = list(find_fits([tmp_path]))
    expected = ["G.FITS", "a.fit", "b/c.fits.gz", "b/d.fz", "b/deep/x.fits", "e.fts", "f.fit.gz"]
    assert found == [tmp_path / name for name in expected]
    assert list(find_fits([tmp_path])) == found


def test_find_fits_takes_files_and_directories_in_the_order_given(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ["sub/b.fits", "sub/a.fits", "z.fits", "notes.txt"]:
        (tmp_path / name).write_bytes(b"")
    paths = [tmp_path / "z.fits", tmp_path / "notes.txt", tmp_path / "sub", tmp_path / "nope"]
    assert list(find_fits(paths)) == [
        tmp_path / "z.fits",
        tmp_path / "sub" / "a.fits",
        tmp_path / "sub" / "b.fits",
    ]
