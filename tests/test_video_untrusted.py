"""ffmpeg reads an input as one plain media file: a playlist naming other files or URLs is refused unopened.

``watch_opens`` (Linux inotify) sees every open of a file by any process, so these tests prove the video a
playlist points at is never read, rather than guessing from the output.
"""
import contextlib
import ctypes
import os
import shutil
import subprocess
import sys

import pytest

from conftest import assert_clean_failure, run_cli, shared
from lib import video
from lib.errors import FaceswapError

CLIP = "jamie_oliver/video_oliver_voxceleb_00086.mp4"
_IN_ACCESS, _IN_OPEN = 0x1, 0x20


@contextlib.contextmanager
def watch_opens(path):
    """Yield a function returning how many times ``path`` was opened or read since the watch began."""
    if not sys.platform.startswith("linux"):
        pytest.skip("needs Linux inotify to watch file opens")
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK)
    if fd < 0 or libc.inotify_add_watch(fd, os.fsencode(path), _IN_OPEN | _IN_ACCESS) < 0:
        pytest.skip(f"inotify unavailable (errno {ctypes.get_errno()})")
    seen = []

    def opened() -> int:
        while True:
            try:
                seen.append(os.read(fd, 4096))
            except BlockingIOError:
                return sum(len(chunk) for chunk in seen) // 16    # one 16-byte event per open or read
    try:
        yield opened
    finally:
        os.close(fd)


def hls_playlist(*entries: str) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:10", "#EXT-X-MEDIA-SEQUENCE:0"]
    for entry in entries:
        lines += ["#EXTINF:5.0,", entry]
    return "\n".join(lines + ["#EXT-X-ENDLIST", ""])


def ffconcat_playlist(*entries: str) -> str:
    return "ffconcat version 1.0\n" + "".join(f"file '{entry}'\n" for entry in entries)


@pytest.fixture
def secret(tmp_path):
    """A real video in a folder of its own: what a playlist would smuggle in."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    path = folder / "secret.mp4"
    shutil.copy(shared(CLIP), path)
    return path


def test_a_bare_ffmpeg_follows_a_playlist_to_another_file(tmp_path, secret):
    """The threat, shown: ffmpeg without our input options opens the file a playlist names."""
    playlist = tmp_path / "playlist.m3u8"
    playlist.write_text(hls_playlist(f"file://{secret}"))
    with watch_opens(secret) as opened:
        subprocess.run([video.ffmpeg_exe(), "-nostdin", "-i", str(playlist), "-f", "null", "-"],
                       capture_output=True, timeout=60)
        assert opened() > 0


@pytest.mark.parametrize("kind", ["hls", "ffconcat"])
def test_probe_refuses_a_playlist_without_opening_what_it_names(tmp_path, secret, kind):
    playlist = tmp_path / "playlist.m3u8"
    text = hls_playlist if kind == "hls" else ffconcat_playlist
    playlist.write_text(text(f"file://{secret}", f"file:{secret}"))
    with watch_opens(secret) as opened:
        with pytest.raises(FaceswapError, match="not a plain video file"):
            video.probe(playlist)
        assert opened() == 0


def test_extract_refuses_a_playlist_with_one_error_line_and_never_reads_the_video(tmp_path, secret):
    playlist = tmp_path / "playlist.m3u8"
    playlist.write_text(hls_playlist(f"file://{secret}"))
    with watch_opens(secret) as opened:
        proc = run_cli("faceswap.py", "extract", "-i", playlist, "-o", tmp_path / "faces", check=False, timeout=300)
        assert opened() == 0
    assert_clean_failure(proc, "playlist.m3u8", "not a plain video file")
    assert not (tmp_path / "faces").exists() or not any((tmp_path / "faces").iterdir())


def test_plain_videos_with_odd_names_still_read(tmp_path):
    """Inputs go to ffmpeg as ``file:`` paths: a colon or a percent sign in a name is just a name."""
    path = tmp_path / "take 1: 100%.mp4"
    shutil.copy(shared(CLIP), path)
    info = video.probe(path)
    assert info.frame_count == 130
    assert sum(1 for _ in video.read_frames(path, info)) == 130
