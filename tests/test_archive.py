"""Model archives: a real tiny model goes through pack -> unpack -> load unchanged; hostile archives (paths out
of the folder, links, devices, bombs, pickled arrays, strange members) are each refused with nothing written
outside the temp folder, and a pickled array is never unpickled."""
import io
import json
import stat
import zipfile

import numpy as np
import pytest

from lib.errors import FaceswapError
from lib.model import archive, store
from lib.model.archive import ArchiveError

TINY = {"width": 0.125, "dense": 64}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A freshly built (untrained) real ``lightweight`` model, saved by the store with optimizer state."""
    from lib.model.network import build_network
    folder = tmp_path_factory.mktemp("model")
    net = build_network("lightweight", TINY, "float32")
    meta = {"plugin": "lightweight", "settings": net.settings, "iterations": 7, "input_size": net.input_size,
            "output_size": net.output_size, "centering": "face", "learns_mask": bool(net.learns_mask)}
    weights = [w.numpy() for w in net.weights]
    store.save(folder, meta, weights, [np.ones_like(w) for w in weights[:3]])
    return folder


def tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def zip_of(path, *members):
    """Write a zip of (ZipInfo or name, bytes) members, as a hostile sender would."""
    with zipfile.ZipFile(path, "w") as out:
        for info, data in members:
            out.writestr(info, data)
    return path


def member(name, mode=stat.S_IFREG | 0o644, compress=zipfile.ZIP_STORED):
    info = zipfile.ZipInfo(name)
    info.create_system = 3                      # unix: the mode bits below mean what they say
    info.external_attr = mode << 16
    info.compress_type = compress
    return info


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)                     # savez pickles object arrays: what an attacker would send
    return buf.getvalue()


def good_meta(weights=1):
    meta = {"format": store.FORMAT, "version": store.VERSION, "plugin": "lightweight", "settings": TINY,
            "iterations": 1, "input_size": 64, "output_size": 64, "weights": [[2]] * weights}
    return np.frombuffer(json.dumps(meta).encode(), np.uint8)


class Boom:
    """Unpickling this creates the file ``marker``: proof that loading ran code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


# ------------------------------------------------------------------------------------------------ round trip
def test_a_real_model_survives_pack_and_unpack_and_still_loads(model_dir, tmp_path):
    packed = archive.pack(model_dir, tmp_path / "model.zip")
    with zipfile.ZipFile(packed) as zipped:
        assert zipped.namelist() == ["model.npz"]    # backup, snapshots and logs stay home
    dest = tmp_path / "unpacked"
    dest.mkdir()
    folder = archive.unpack(packed, dest, build=True)
    assert folder.parent == dest and tree(dest) == [folder.name, f"{folder.name}/model.npz"]
    meta, weights, optimizer = store.read_file(folder / "model.npz")
    meta0, weights0, optimizer0 = store.read_file(model_dir / "model.npz")
    assert meta == meta0 and len(weights) == len(weights0) and len(optimizer) == 3
    assert all(np.array_equal(a, b) for a, b in zip(weights + optimizer, weights0 + optimizer0))
    faces = np.random.default_rng(0).random((2, 64, 64, 3), np.float32)
    assert np.allclose(store.load_model(folder, policy="float32").predict(faces)[0],
                       store.load_model(model_dir, policy="float32").predict(faces)[0])


def test_packing_a_folder_without_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(FaceswapError, match="no faceswap model"):
        archive.pack(tmp_path, tmp_path / "model.zip")
    assert not (tmp_path / "model.zip").exists()


# ------------------------------------------------------------------------------------------------ hostile
@pytest.fixture
def dest(tmp_path):
    folder = tmp_path / "dest"
    folder.mkdir()
    return folder


def refused(path, dest, words, **kwargs):
    with pytest.raises(ArchiveError) as info:
        archive.unpack(path, dest, **kwargs)
    assert info.value.kind == "invalid"
    assert words in str(info.value), str(info.value)
    assert tree(dest) == []                      # the temp folder went with the failure
    return info.value


def plain_npz() -> bytes:
    """A small valid model file (no TensorFlow needed): what the hostile archives wrap."""
    return npz_bytes(meta=good_meta(), w0000=np.zeros(2, np.float32))


def test_a_member_climbing_out_with_dotdot_is_refused(tmp_path, dest):
    bad = zip_of(tmp_path / "a.zip", (member("../model.npz"), plain_npz()))
    refused(bad, dest, "outside the archive")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip", "dest"]


def test_an_absolute_member_is_refused(tmp_path, dest):
    target = tmp_path / "abs" / "model.npz"
    refused(zip_of(tmp_path / "a.zip", (member(str(target)), plain_npz())), dest, "absolute path")
    assert not target.parent.exists()


def test_a_symlink_member_is_refused(tmp_path, dest):
    link = member("model.npz", stat.S_IFLNK | 0o777)
    refused(zip_of(tmp_path / "a.zip", (link, b"/etc/passwd")), dest, "symbolic link")


def test_a_device_member_is_refused(tmp_path, dest):
    device = member("model.npz", stat.S_IFCHR | 0o666)
    refused(zip_of(tmp_path / "a.zip", (device, b"")), dest, "device or special file")


def test_an_oversized_member_is_refused_before_it_is_written(tmp_path, dest):
    bomb = zip_of(tmp_path / "a.zip", (member("model.npz", compress=zipfile.ZIP_DEFLATED), bytes(8 << 20)))
    assert bomb.stat().st_size < 100_000        # 8 MB of zeros deflate to a few KB
    refused(bomb, dest, "over the 1 MB limit", max_bytes=1 << 20)


def test_a_member_larger_than_its_header_says_is_refused(tmp_path, dest):
    """A zip whose directory claims a small size for a large member: the bytes actually read decide."""
    data = bytes(300_000)
    path = zip_of(tmp_path / "a.zip", (member("model.npz", compress=zipfile.ZIP_DEFLATED), data))
    raw = bytearray(path.read_bytes())
    real, fake = len(data).to_bytes(4, "little"), (1000).to_bytes(4, "little")
    assert raw.count(real) == 2                  # the local header and the central directory entry
    path.write_bytes(bytes(raw).replace(real, fake))
    refused(path, dest, "damaged")


def test_too_many_members_are_refused_before_the_directory_is_parsed(tmp_path, dest):
    refused(zip_of(tmp_path / "a.zip", *[(member(f"f{i}"), b"") for i in range(100)]), dest, "too many members")


def test_an_unexpected_member_is_refused(tmp_path, dest):
    bad = zip_of(tmp_path / "a.zip", (member("model.npz"), plain_npz()), (member("run_me.py"), b"1"))
    refused(bad, dest, "unexpected member 'run_me.py'")


def test_something_that_is_no_zip_is_refused(tmp_path, dest):
    path = tmp_path / "a.zip"
    path.write_bytes(b"<html>not found</html>")
    refused(path, dest, "not a zip file")


@pytest.mark.parametrize("where", ["weight", "unused entry"])
def test_a_pickled_array_is_refused_and_never_unpickled(tmp_path, dest, where):
    marker = tmp_path / "pickle_ran"
    evil = np.array([Boom(marker)], dtype=object)
    if where == "weight":
        npz = npz_bytes(meta=good_meta(), w0000=evil)
    else:                                        # the store's loader would never read w0001: we still refuse it
        npz = npz_bytes(meta=good_meta(), w0000=np.zeros(2, np.float32), w0001=evil)
    refused(zip_of(tmp_path / "a.zip", (member("model.npz"), npz)), dest, "pickled (object) array")
    assert not marker.exists()


def test_an_array_header_promising_more_than_its_bytes_is_refused(tmp_path, dest):
    """np.load would allocate what the header promises: a few bytes could ask for gigabytes."""
    buf = io.BytesIO()
    np.save(buf, np.zeros(2, np.float32))
    npy = buf.getvalue().replace(b"'shape': (2,)", b"'shape': (9,)")
    meta = io.BytesIO()
    np.save(meta, good_meta())
    npz = zip_of(tmp_path / "model.npz", ("meta.npy", meta.getvalue()), ("w0000.npy", npy)).read_bytes()
    refused(zip_of(tmp_path / "a.zip", (member("model.npz"), npz)), dest, "declares shape")


def test_a_model_of_an_unknown_plugin_is_refused(tmp_path, dest):
    meta = json.loads(bytes(good_meta()))
    meta["plugin"] = "no-such-model"
    npz = npz_bytes(meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), w0000=np.zeros(2, np.float32))
    refused(zip_of(tmp_path / "a.zip", (member("model.npz"), npz)), dest, "'no-such-model'")


def test_a_model_file_with_wrong_weights_is_refused_by_the_store(tmp_path, dest):
    npz = npz_bytes(meta=good_meta(weights=2), w0000=np.zeros(2, np.float32))    # meta promises 2 weights
    error = refused(zip_of(tmp_path / "a.zip", (member("model.npz"), npz)), dest, "not usable")
    assert str(dest) not in str(error)
