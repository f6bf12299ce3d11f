"""Generate the gRPC Python code from ``proto/faceswap.proto``: ``python -m lib.service.protogen``.

The generated ``lib/service/faceswap_pb2.py`` and ``faceswap_pb2_grpc.py`` are committed; a test runs the same
:func:`generate` into a temp folder and compares byte for byte, so they never drift from the .proto file.
The proto is compiled as ``lib/service/faceswap.proto`` (a virtual path) so that the generated code imports
its sibling as ``lib.service.faceswap_pb2``, with no hand edits.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO = ROOT / "proto" / "faceswap.proto"
PACKAGE_PATH = "lib/service"
OUTPUTS = ("faceswap_pb2.py", "faceswap_pb2_grpc.py")


def generate(out_root: Path) -> list[Path]:
    """Compile the proto into ``out_root/lib/service/``; returns the generated files.

    protoc runs in a child process: its C++ protobuf runtime crashes a process that has TensorFlow's loaded."""
    out_root = Path(out_root)
    (out_root / PACKAGE_PATH).mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PACKAGE_PATH}={PROTO.parent}",
                           f"--python_out={out_root}", f"--grpc_python_out={out_root}", f"{PACKAGE_PATH}/{PROTO.name}"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"protoc failed on {PROTO} (exit status {proc.returncode}): {proc.stderr.strip()}")
    return [out_root / PACKAGE_PATH / name for name in OUTPUTS]


if __name__ == "__main__":
    for path in generate(ROOT):
        print(f"wrote {path.relative_to(ROOT)}")
    sys.exit(0)
