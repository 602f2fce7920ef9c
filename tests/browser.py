#!/usr/bin/env python3
"""browser.py - drives headless Chromium through the DevTools protocol (a
small websocket client on the standard library, RFC 6455) to use the serve
page as a person would: type a song, pick a suggestion, wait for the
results, take a screenshot, and check it is not blank.

usage: browser.py CHROMIUM URL QUERY PICK SCREENSHOT.png [WIDTH [AUDIO_FILE]]
With AUDIO_FILE it is also given to the page's sounds-like file input, and
the test waits for library songs with players.
Prints PASS/FAIL lines for tests/lib.sh counting; exit 1 on a failure."""
import base64, json, os, re, socket, struct, subprocess, sys, tempfile, time, urllib.request, zlib


class WebSocket:
    def __init__(self, url):
        m = re.match(r"ws://([^:/]+):(\d+)(/.*)", url)
        self.sock = socket.create_connection((m.group(1), int(m.group(2))), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {m.group(3)} HTTP/1.1\r\nHost: {m.group(1)}:{m.group(2)}\r\n"
                           f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise IOError("websocket handshake: connection closed")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise IOError("websocket handshake refused: " + head.decode(errors="replace"))

    def send(self, text):
        data = text.encode()
        hdr = bytes([0x81])                       # FIN, text frame
        n = len(data)
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)                      # clients must mask (RFC 6455 5.3)
        self.sock.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise IOError("websocket closed")
            buf += chunk
        return buf

    def recv(self):
        msg = b""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            payload = self._exact(n)
            op = b0 & 0x0F
            if op == 8:
                raise IOError("websocket closed by the browser")
            if op in (0, 1, 2):
                msg += payload
                if b0 & 0x80:
                    return msg.decode()


class Page:
    def __init__(self, ws_url):
        self.ws, self.next_id = WebSocket(ws_url), 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait(self, expr, secs=15):
        end = time.time() + secs
        while time.time() < end:
            v = self.js(expr)
            if v:
                return v
            time.sleep(0.1)
        return None


def png_pixels(data):
    """RGB(A) rows of an 8-bit PNG (colour types 2 and 6), filters undone."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype not in (2, 6):
                raise ValueError(f"PNG depth {depth} colour type {ctype}")
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, rows, prev = zlib.decompress(idat), w * bpp, [], bytearray(w * bpp)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


failed = 0
def check(name, cond, why=""):
    global failed
    print(f"PASS: test_serve_browser: {name}" if cond else f"FAIL: test_serve_browser: {name}: {why}", flush=True)
    failed += not cond


def main():
    chromium, url, query, pick, shot = sys.argv[1:6]
    width = int(sys.argv[6]) if len(sys.argv) > 6 else 1280
    audio = sys.argv[7] if len(sys.argv) > 7 else None
    profile = tempfile.mkdtemp(prefix="serve-chromium-")
    proc = subprocess.Popen([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                             "--disable-background-networking", "--disable-component-update", "--disable-sync",
                             "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--remote-debugging-port=0",
                             f"--window-size={width},900", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        end = time.time() + 30
        while time.time() < end and port is None:
            line = proc.stderr.readline()
            m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if m: port = m.group(1)
            if not line and proc.poll() is not None: break
        if not port:
            check("chromium starts with DevTools", False, "no 'DevTools listening' line"); return 1
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = Page(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1, mobile=width < 600)
        page.call("Page.navigate", url=url)
        check("page loads with the styles", page.wait("document.readyState === 'complete' && state.styles.length > 0"), "no styles")
        page.js("document.getElementById('q').focus()")
        for ch in query:                          # typed one key at a time
            page.call("Input.dispatchKeyEvent", type="keyDown", text=ch, key=ch, unmodifiedText=ch)
            page.call("Input.dispatchKeyEvent", type="keyUp", key=ch)
        n = page.wait("document.querySelectorAll('#sugg li').length")
        check("suggestions appear while typing", n, "none after typing '%s'" % query)
        labels = page.js("[...document.querySelectorAll('#sugg li')].map(li => li.textContent)") or []
        idx = next((i for i, t in enumerate(labels) if pick in t), -1)
        check("the wanted song is suggested", idx >= 0, f"'{pick}' not in {labels}")
        if idx < 0: return 1
        box = page.js(f"(() => {{ const r = document.querySelectorAll('#sugg li')[{idx}].getBoundingClientRect();"
                      " return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):   # a real click on it
            page.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)
        check("the pick becomes a seed", page.wait(f"document.getElementById('seeds').textContent.includes({json.dumps(pick)})"),
              page.js("document.getElementById('seeds').textContent"))
        ten = "[...document.querySelectorAll('#results .style:not(.cont)')].every(s => s.querySelectorAll('li.result').length === 10)"
        check("ten results in every style", page.wait(f"document.querySelectorAll('#results .style:not(.cont)').length > 0 && {ten}"),
              page.js("[...document.querySelectorAll('#results .style:not(.cont)')].map(s => s.textContent.slice(0, 200))"))
        scores = page.js("[...document.querySelectorAll('#results .style:not(.cont)')][0].querySelectorAll('.score').length")
        why = page.js("[...document.querySelectorAll('.why')].filter(e => e.textContent.length > 5).length")
        check("each result shows a score and a reason", scores == 10 and why >= 10, f"{scores} scores, {why} reasons")
        if audio:
            root = page.call("DOM.getDocument")["root"]["nodeId"]
            node = page.call("DOM.querySelector", nodeId=root, selector="#audiofile")["nodeId"]
            page.call("DOM.setFileInputFiles", nodeId=node, files=[os.path.abspath(audio)])
            got = page.wait("document.querySelectorAll('#soundres li audio').length", 60)
            check("an audio file gives library songs with players", got,
                  page.js("document.getElementById('soundmsg').textContent"))
            first = page.js("document.querySelector('#soundres li .t') && document.querySelector('#soundres li .t').textContent")
            want = os.path.splitext(os.path.basename(audio))[0]
            check("the file's own clip is the first sounds-like result", first == want, f"first is {first}, want {want}")
        overflow = page.js("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        check(f"no sideways scrolling at {width} px", overflow <= 0, f"{overflow} px too wide")
        data = base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"])
        with open(shot, "wb") as f:
            f.write(data)
        w, h, bpp, rows = png_pixels(data)
        counts = {}
        for row in rows[::2]:
            for x in range(0, w * bpp, bpp * 2):
                px = row[x:x + 3]
                counts[px] = counts.get(px, 0) + 1
        total = sum(counts.values())
        ink = 1 - max(counts.values()) / total
        check("screenshot is not blank", ink > 0.02 and len(counts) >= 16,
              f"{len(counts)} colours, {ink:.3f} of the pixels differ from the background")
        return 1 if failed else 0
    finally:
        proc.terminate()
        try: proc.wait(10)
        except subprocess.TimeoutExpired: proc.kill()
        subprocess.run(["rm", "-rf", profile])


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:                        # a broken step is a failure, with its reason
        check("the browser session", False, f"{type(e).__name__}: {e}")
        sys.exit(1)
