"""The faceswap service: durable jobs (store, queue, worker), the gRPC front end, the web dashboard.

- ``store``       our jobs table (SQLite in the data folder): uids, jobs, progress, losses; the source of truth
- ``queue``       huey carries job ids to workers; kinds of job are registered functions run in child processes
- ``runner``      the child process that runs one job and records its progress
- ``access``      uids, tokens, signed dashboard links, the per-uid quota and retention
- ``pipeline``    one service call: fetch, extract, train, convert, evaluate, publish
- ``grpc_server`` the ``DeepFakesFaceSwap`` service; ``web`` the dashboard and JSON status; ``server`` runs it all
"""
