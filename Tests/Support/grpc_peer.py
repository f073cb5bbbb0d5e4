#!/usr/bin/env python3
"""A gRPC server (plain h2c, the local service) and a gRPC client (TLS, through the relay).

usage: grpc_peer.py server
       grpc_peer.py client PORT NAME CAFILE

The server prints "PORT <n>" and serves, with raw-bytes messages (no generated code):
  /test.Echo/Unary    answers b"echo:" + the request, with trailing metadata x-served-by
  /test.Echo/Stream   answers every message of a request stream as it comes (bidirectional)
  /test.Echo/Fail     aborts with INVALID_ARGUMENT, details "bad thing" (a trailers-only answer)
  /test.Echo/Big      answers a 4 MiB message
The client calls each through the relay's HTTPS port (TLS to NAME, trusting CAFILE) and prints
"OK" or "FAIL <reason>". Exits after 300 s at most.
"""
import hashlib, sys, threading, time
from concurrent import futures
import grpc

SERVICE = "test.Echo"


def serve():
    def unary(request, context):
        context.set_trailing_metadata((("x-served-by", "grpc-origin"),))
        return b"echo:" + request

    def stream(requests, context):
        for r in requests:
            yield b"re:" + r

    def fail(request, context):
        context.set_trailing_metadata((("x-why", "testing"),))
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad thing")

    def big(request, context):
        return bytes(range(256)) * (4 * 1024 * 1024 // 256)

    handler = grpc.method_handlers_generic_handler(SERVICE, {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "Stream": grpc.stream_stream_rpc_method_handler(stream),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Big": grpc.unary_unary_rpc_method_handler(big),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=[("grpc.max_send_message_length", 16 << 20)])
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print("PORT %d" % port, flush=True)
    time.sleep(300)
    server.stop(0)


def client(port, name, cafile):
    creds = grpc.ssl_channel_credentials(root_certificates=open(cafile, "rb").read())
    options = [("grpc.ssl_target_name_override", name), ("grpc.default_authority", name), ("grpc.max_receive_message_length", 16 << 20)]
    with grpc.secure_channel("127.0.0.1:%d" % port, creds, options=options) as channel:
        grpc.channel_ready_future(channel).result(timeout=20)
        unary = channel.unary_unary("/%s/Unary" % SERVICE)
        reply, call = unary.with_call(b"hello", timeout=20)
        if reply != b"echo:hello":
            return "FAIL unary %r" % reply
        if ("x-served-by", "grpc-origin") not in tuple(call.trailing_metadata()):
            return "FAIL unary trailers %r" % (call.trailing_metadata(),)
        if call.code() != grpc.StatusCode.OK:
            return "FAIL unary status %r" % call.code()

        stream = channel.stream_stream("/%s/Stream" % SERVICE)
        msgs = [b"m%d" % i * (i + 1) for i in range(50)]
        got = list(stream(iter(msgs), timeout=30))
        if got != [b"re:" + m for m in msgs]:
            return "FAIL stream %d replies" % len(got)

        fail = channel.unary_unary("/%s/Fail" % SERVICE)
        try:
            fail(b"x", timeout=20)
            return "FAIL the failing call succeeded"
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.INVALID_ARGUMENT or e.details() != "bad thing":
                return "FAIL status %r %r" % (e.code(), e.details())
            if ("x-why", "testing") not in tuple(e.trailing_metadata()):
                return "FAIL error trailers %r" % (e.trailing_metadata(),)

        big = channel.unary_unary("/%s/Big" % SERVICE)
        data = big(b"", timeout=60)
        expected = bytes(range(256)) * (4 * 1024 * 1024 // 256)
        if hashlib.sha256(data).digest() != hashlib.sha256(expected).digest():
            return "FAIL big reply %d bytes" % len(data)
    return "OK"


if __name__ == "__main__":
    if sys.argv[1] == "server":
        serve()
    else:
        result = client(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        print(result, flush=True)
        sys.exit(0 if result == "OK" else 1)
