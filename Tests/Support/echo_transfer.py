"""The transfer loop tcp_transfer.py and paced_transfer.py share: sends DATA through HOST:PORT to an
echo server (optionally paced over SECONDS), half-closes, reads everything back and compares."""
import hashlib, socket, sys, threading, time


def run(host, port, data, timeout=60, seconds=0.0, on_first=None, on_error=None):
    """Prints "OK <size> <received> <sha256>" when the echo is byte-exact, else "MISMATCH ..."
    or "ERROR ..." (exit 1). `on_first` runs when the first echoed bytes are back; `on_error`
    (received) handles an exception while receiving, which otherwise ends with "ERROR"."""
    size = len(data)
    sent_hash = hashlib.sha256(data).hexdigest()
    s = socket.create_connection((host, port), timeout=timeout)
    err = []

    def writer():
        try:
            view = memoryview(data)
            step = 1 << 16
            pause = seconds / max(1, (size + step - 1) // step)
            for i in range(0, size, step):
                s.sendall(view[i:i + step])
                if pause:
                    time.sleep(pause)
            s.shutdown(socket.SHUT_WR)
        except Exception as e:
            err.append(e)

    t = threading.Thread(target=writer)
    t.start()
    h = hashlib.sha256()
    received = 0
    while True:
        try:
            d = s.recv(1 << 18)
        except Exception as e:
            if on_error:
                on_error(e, received, not t.is_alive())
            print("ERROR after receiving", received, "of", size, "bytes:", e, flush=True); sys.exit(1)
        if not d:
            break
        if received == 0 and on_first:
            on_first()
        h.update(d)
        received += len(d)
    t.join()
    s.close()
    if err:
        print("ERROR", err[0], flush=True); sys.exit(1)
    got = h.hexdigest()
    if got == sent_hash and received == size:
        print("OK", size, received, got, flush=True)
    else:
        print("MISMATCH", size, received, sent_hash, got, flush=True); sys.exit(1)
