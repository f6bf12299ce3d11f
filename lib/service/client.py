"""A small gRPC client of the faceswap service (``faceswap.py client``, the tests and the benchmark use it).

Errors come back as :class:`lib.errors.FaceswapError` holding the service's message and status code name.
"""
from __future__ import annotations

import grpc

from lib.errors import FaceswapError
from lib.service import faceswap_pb2 as pb
from lib.service import faceswap_pb2_grpc as pb_grpc


class CallFailed(FaceswapError):
    """The service refused or failed a call; ``code`` is the gRPC status code."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(f"{code.name}: {message}")
        self.code, self.details = code, message


class Client:
    def __init__(self, server: str, timeout: float = 600.0):
        self.server, self.timeout = server, timeout
        self.channel = grpc.insecure_channel(server)
        self.stub = pb_grpc.DeepFakesFaceSwapStub(self.channel)

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.UNAVAILABLE and "connect" in (err.details() or "").lower():
                raise CallFailed(err.code(), f"cannot reach the faceswap service at {self.server}: is it running "
                                             f"(faceswap.py serve)?") from None
            raise CallFailed(err.code(), err.details() or "") from None

    def faceswap(self, video_a: str, video_b: str, uid: str = "", token: str = "", model_url: str = "",
                 iterations: int = 0) -> pb.Output:
        return self._call(self.stub.faceswap, pb.Input(uid=uid, video_a=video_a, video_b=video_b,
                                                       model_url=model_url, token=token, iterations=iterations))

    def status(self, uid: str, token: str, job: str = "") -> pb.Status:
        return self._call(self.stub.status, pb.JobRef(uid=uid, token=token, job=job))

    def cancel(self, uid: str, token: str, job: str = "") -> pb.Status:
        return self._call(self.stub.cancel, pb.JobRef(uid=uid, token=token, job=job))

    def close(self) -> None:
        self.channel.close()

    @staticmethod
    def describe(status: pb.Status) -> str:
        """One line for a terminal."""
        parts = [f"job {status.job[:8]}: {status.state}"]
        if status.state == "queued" and status.position:
            parts.append(f"#{status.position} in the queue")
        if status.stage:
            parts.append(status.stage)
        if status.total:
            parts.append(f"{status.done}/{status.total}")
        if status.iteration:
            parts.append(f"iteration {status.iteration}")
        if status.error:
            parts.append(f"error: {status.error}")
        return ", ".join(parts)
