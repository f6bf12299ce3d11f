"""The ``DeepFakesFaceSwap`` gRPC service: ``faceswap`` (queue a call), ``status`` and ``cancel``.

Each failure is one status code with one message a caller can act on:

- INVALID_ARGUMENT: a missing or bad URL, a file over the size cap, not a video, not a model, bad iterations
- DEADLINE_EXCEEDED / UNAVAILABLE: a download took too long / its server could not be reached (try again)
- NOT_FOUND / PERMISSION_DENIED: an unknown uid or job / a missing or wrong token
- RESOURCE_EXHAUSTED: the uid's quota of queued and running jobs, or the whole queue, is full
"""
from __future__ import annotations

import json
import logging
from concurrent import futures

import grpc

from lib.errors import FaceswapError
from lib.service import faceswap_pb2 as pb
from lib.service import faceswap_pb2_grpc as pb_grpc
from lib.service.access import Denied, NotFound
from lib.service.pipeline import accept_call
from lib.service.status import describe
from lib.service.store import QuotaExceeded

log = logging.getLogger("faceswap.service")


def status_code(err: Exception) -> grpc.StatusCode:
    """The gRPC status code for an error raised while handling a call."""
    if isinstance(err, NotFound):
        return grpc.StatusCode.NOT_FOUND
    if isinstance(err, Denied):
        return grpc.StatusCode.PERMISSION_DENIED
    if isinstance(err, QuotaExceeded):
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    kind = getattr(err, "kind", "invalid")      # lib.fetch.FetchError, lib.model.archive.ArchiveError
    return {"timeout": grpc.StatusCode.DEADLINE_EXCEEDED,
            "unavailable": grpc.StatusCode.UNAVAILABLE}.get(kind, grpc.StatusCode.INVALID_ARGUMENT)


class FaceSwapServicer(pb_grpc.DeepFakesFaceSwapServicer):
    def __init__(self, queue, access, settings):
        self.queue, self.access, self.settings = queue, access, settings

    def _guard(self, context, work):
        try:
            return work()
        except FaceswapError as err:
            context.abort(status_code(err), str(err))
        except Exception as err:  # noqa: BLE001 - never a traceback to a caller; the log has it
            log.exception("gRPC call failed")
            context.abort(grpc.StatusCode.INTERNAL, f"internal error ({type(err).__name__}); the service log has "
                                                    f"the details")

    def faceswap(self, request, context):
        def work():
            uid, token, job_id = accept_call(self.queue, self.access, self.settings, uid=request.uid,
                                             token=request.token, video_a=request.video_a, video_b=request.video_b,
                                             model_url=request.model_url, iterations=request.iterations)
            return pb.Output(uid=self.access.link(self.settings.base_url, uid), token=token or "", job=job_id,
                             id=uid)
        return self._guard(context, work)

    def status(self, request, context):
        return self._guard(context, lambda: self._status(self._job(request)))

    def cancel(self, request, context):
        def work():
            job = self._job(request)
            self.queue.cancel(job["id"])
            return self._status(self.queue.get(job["id"]))
        return self._guard(context, work)

    def _job(self, request) -> dict:
        self.access.check_token(request.uid, request.token)
        if request.job:
            job = self.queue.get(request.job)
            if job is None or job["uid"] != request.uid:
                raise NotFound(f"uid {request.uid} has no job {request.job[:40]!r}")
            return job
        jobs = self.queue.jobs(request.uid, limit=1)
        if not jobs:
            raise NotFound(f"uid {request.uid} has no jobs")
        return jobs[0]

    def _status(self, job: dict) -> pb.Status:
        base = self.settings.base_url
        view = describe(job, [], base, {"uid": job["uid"], "key": self.access.key(job["uid"])})
        return pb.Status(uid=job["uid"], job=job["id"], state=view["state"], stage=view["stage"] or "",
                         done=int(view["done"] or 0), total=int(view["total"] or 0),
                         iteration=int(view["iteration"] or 0), loss_a=float(view["loss_a"] or 0),
                         loss_b=float(view["loss_b"] or 0), egs=float(view["egs"] or 0), eta=float(view["eta"] or 0),
                         position=int(view["position"] or 0), error=view["error"] or "",
                         video_url=view["video"] or "", model_url=view["model"] or "",
                         dashboard=self.access.link(base, job["uid"]),
                         summary_json=json.dumps(view["quality"]) if view["quality"] else "")


def start_grpc(queue, access, settings, threads: int = 32) -> grpc.Server:
    """Start the gRPC server on ``settings.host:settings.grpc_port``; returns it (call ``stop`` to end it)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="grpc"),
                         options=[("grpc.so_reuseport", 0)])     # a second serve on the same port is an error
    pb_grpc.add_DeepFakesFaceSwapServicer_to_server(FaceSwapServicer(queue, access, settings), server)
    address = f"{settings.host}:{settings.grpc_port}"
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as err:
        raise FaceswapError(f"cannot listen for gRPC on {address}: {err} (is the port in use? pick another with "
                            f"--grpc-port)") from None
    if port == 0:
        raise FaceswapError(f"cannot listen for gRPC on {address} (is the port in use? pick another with --grpc-port)")
    server.start()
    return server
