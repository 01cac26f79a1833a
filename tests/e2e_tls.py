"""e2e_tls.py - TLS (tls.c) against the fake API served over HTTPS with
certificates made here with openssl: the good one works; expired, not
yet valid, wrong host, self-signed, untrusted CA and weak key each fail
at once (no retries) with their own message and a non-zero status."""

import os
import socket
import ssl
import subprocess
import threading

from e2e_http import api, warnings, stats, _Proxy


def ossl(*a, cwd=None):
    p = subprocess.run(("openssl",) + a, capture_output=True, cwd=cwd)
    if p.returncode != 0:
        raise AssertionError("openssl %s: %s" % (" ".join(a), p.stderr.decode()))


class Certs:
    """A test CA in d; leaf() makes server certificates signed by it."""

    def __init__(self, d, name="ca"):
        self.d = d
        os.makedirs(d, exist_ok=True)
        self.key = os.path.join(d, name + ".key")
        self.pem = os.path.join(d, name + ".pem")
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
             self.key, "-out", self.pem, "-days", "30", "-subj",
             "/CN=contree %s" % name,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.cnf = os.path.join(d, name + ".cnf")
        db = os.path.join(d, name + "-db")
        os.makedirs(db, exist_ok=True)
        open(os.path.join(db, "index.txt"), "w").close()
        with open(os.path.join(db, "serial"), "w") as f:
            f.write("1000\n")
        with open(self.cnf, "w") as f:
            f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\n"
                    "new_certs_dir = %s\nserial = %s/serial\n"
                    "default_md = sha256\npolicy = p\nunique_subject = no\n"
                    "[p]\ncommonName = supplied\n" % (db, db, db))

    def leaf(self, name, host="localhost", bits=2048, start=None, end=None,
             san=None):
        key = os.path.join(self.d, name + ".key")
        csr = os.path.join(self.d, name + ".csr")
        pem = os.path.join(self.d, name + ".pem")
        ext = os.path.join(self.d, name + ".ext")
        ossl("req", "-newkey", "rsa:%d" % bits, "-nodes", "-keyout", key,
             "-out", csr, "-subj", "/CN=%s" % host)
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n" % (san or "DNS:" + host))
        args = ["ca", "-batch", "-config", self.cnf, "-cert", self.pem,
                "-keyfile", self.key, "-in", csr, "-out", pem, "-notext",
                "-extfile", ext]
        if start:
            args += ["-startdate", start]
        if end:
            args += ["-enddate", end]
        else:
            args += ["-days", "10"]
        ossl(*args)
        return pem, key


def tls_fake(t, cert, key, ca):
    t.start_fake(tls_cert=cert, tls_key=key)
    t.fake.ca_file = ca
    return t.fake


def expect_cert_failure(t, cert, key, ca, words):
    tls_fake(t, cert, key, ca)
    r = api(t, "-s", "/images")
    assert r.code == 1, "must fail: %r" % r.stdout
    assert "TLS error: certificate verification failed for localhost" in r.stderr, r.stderr
    assert words in r.stderr, "want %r in %r" % (words, r.stderr)
    assert not warnings(r), "certificate failures are never retried: %r" % r.stderr
    assert stats(r)[0] == 1, r.stderr
    assert not t.fake.requests(), "no request may reach the server"


def test_valid_certificate_works(t):
    ca = Certs(t.tmp)
    cert, key = ca.leaf("good")
    tls_fake(t, cert, key, ca.pem)
    r = api(t, "-s", "-r", "3", "-q", "limit=2", "/images")
    assert r.code == 0, r.stderr
    assert stats(r) == (1, 3), r.stderr
    assert len(t.fake.requests("GET", "/v1/images")) == 3


def test_valid_certificate_via_ssl_cert_file_and_dir(t):
    ca = Certs(t.tmp)
    cert, key = ca.leaf("good")
    tls_fake(t, cert, key, ca.pem)
    r = api(t, "/images", env={"SSL_CERT_FILE": ca.pem, "CONTREE_CA_FILE": ""})
    assert r.code == 0, r.stderr
    d = os.path.join(t.tmp, "certdir")
    os.makedirs(d)
    with open(ca.pem) as f, open(os.path.join(d, "test-ca.pem"), "w") as g:
        g.write(f.read())
    r = api(t, "/images", env={"SSL_CERT_DIR": d, "CONTREE_CA_FILE": ""})
    assert r.code == 0, r.stderr
    r = api(t, "/images", env={"SSL_CERT_FILE": "/nonexistent/ca.pem",
                               "CONTREE_CA_FILE": ""})
    assert r.code == 1 and "SSL_CERT_FILE" in r.stderr, r.stderr


def test_system_bundle_does_not_trust_test_ca(t):
    ca = Certs(t.tmp)
    cert, key = ca.leaf("good")
    tls_fake(t, cert, key, ca.pem)
    r = api(t, "/images", env={"CONTREE_CA_FILE": ""})
    assert r.code == 1 and "not trusted" in r.stderr, r.stderr


def test_expired(t):
    ca = Certs(t.tmp)
    cert, key = ca.leaf("expired", start="20200101000000Z",
                        end="20200201000000Z")
    expect_cert_failure(t, cert, key, ca.pem,
                        "certificate has expired (valid until 2020-02-01")


def test_not_yet_valid(t):
    ca = Certs(t.tmp)
    cert, key = ca.leaf("future", start="20400101000000Z",
                        end="20410101000000Z")
    expect_cert_failure(t, cert, key, ca.pem,
                        "certificate is not yet valid (valid from 2040-01-01")


def test_wrong_host(t):
    ca = Certs(t.tmp)
    cert, key = ca.leaf("other", host="other.example")
    expect_cert_failure(t, cert, key, ca.pem,
                        "does not match the host name localhost")


def test_self_signed(t):
    key = os.path.join(t.tmp, "self.key")
    cert = os.path.join(t.tmp, "self.pem")
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
         "-out", cert, "-days", "10", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost")
    ca = Certs(t.tmp)
    expect_cert_failure(t, cert, key, ca.pem, "not trusted")


def test_untrusted_ca(t):
    trusted = Certs(os.path.join(t.tmp, "a"), "trusted")
    other = Certs(os.path.join(t.tmp, "b"), "other")
    cert, key = other.leaf("leaf")
    expect_cert_failure(t, cert, key, trusted.pem, "not trusted")


def test_weak_key(t):
    # Python's OpenSSL refuses to serve a 1024-bit key at its default
    # security level, so this one is served by a one-shot server at level 0
    ca = Certs(t.tmp)
    cert, key = ca.leaf("weak", bits=1024)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.load_cert_chain(cert, key)
    t.fake
    port = _one_shot_server(ctx, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", True)
    r = api(t, "-s", "/images", url="https://localhost:%d" % port,
            env={"CONTREE_CA_FILE": ca.pem})
    assert r.code == 1, r.stdout
    assert "TLS error: certificate verification failed for localhost: " \
        "certificate key is too weak" in r.stderr, r.stderr
    assert not warnings(r), r.stderr


def test_https_through_connect_proxy(t):
    ca = Certs(t.tmp)
    cert, key = ca.leaf("good")
    tls_fake(t, cert, key, ca.pem)
    p = _Proxy()
    r = api(t, "/images", env={"HTTPS_PROXY": "http://127.0.0.1:%d" % p.port})
    assert r.code == 0, r.stderr
    assert p.lines == ["CONNECT localhost:%d HTTP/1.1" % t.fake.port], p.lines


def _one_shot_server(ctx, answer, close_notify):
    """A TLS server for one connection: reads a request, writes answer,
    then closes with or without close_notify."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)

    def serve():
        c, _ = s.accept()
        try:
            tc = ctx.wrap_socket(c, server_side=True)
        except (ssl.SSLError, OSError):
            c.close()
            return
        try:
            buf = b""
            while b"\r\n\r\n" not in buf:
                d = tc.recv(4096)
                if not d:
                    break
                buf += d
            tc.sendall(answer)
            if close_notify:
                tc.unwrap().close()
            else:
                # drop the TCP connection under the TLS session
                raw = socket.socket(fileno=tc.detach())
                raw.close()
        except (ssl.SSLError, OSError):
            pass
        s.close()

    threading.Thread(target=serve, daemon=True).start()
    return s.getsockname()[1]


def test_truncated_close_delimited_body(t):
    ca = Certs(t.tmp)
    cert, key = ca.leaf("good")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    t.fake  # only for the harness environment
    port = _one_shot_server(ctx, b"HTTP/1.1 200 OK\r\n\r\n{\"images\": [", False)
    r = api(t, "-1", "/images", url="https://localhost:%d" % port,
            env={"CONTREE_CA_FILE": ca.pem})
    assert r.code == 1, r.stdout
    assert "truncated (closed without close_notify)" in r.stderr, r.stderr
    port = _one_shot_server(ctx, b"HTTP/1.1 200 OK\r\n\r\n{\"images\": []}", True)
    r = api(t, "-1", "/images", url="https://localhost:%d" % port,
            env={"CONTREE_CA_FILE": ca.pem})
    assert r.code == 0, r.stderr


def test_protocol_version_mismatch(t):
    ca = Certs(t.tmp)
    cert, key = ca.leaf("good")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert, key)
    t.fake
    port = _one_shot_server(ctx, b"", True)
    r = api(t, "/images", url="https://localhost:%d" % port,
            env={"CONTREE_CA_FILE": ca.pem})
    assert r.code == 1, r.stdout
    assert not warnings(r), r.stderr
    assert "TLS error" in r.stderr and "protocol version" in r.stderr, r.stderr


def test_aes_gcm_only(t):
    """The profile is ECDHE with AES-GCM: a server that offers only
    ChaCha20-Poly1305 or only CBC is refused with a TLS error, not
    retried; one that offers only AES-256-GCM works."""
    ca = Certs(t.tmp)
    cert, key = ca.leaf("good")
    t.fake
    for ciphers, works in (("ECDHE-RSA-CHACHA20-POLY1305", False),
                           ("ECDHE-RSA-AES128-SHA256", False),
                           ("ECDHE-RSA-AES256-GCM-SHA384", True)):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(ciphers)
        ctx.load_cert_chain(cert, key)
        port = _one_shot_server(ctx, b"HTTP/1.1 200 OK\r\nContent-Length: 2"
                                b"\r\nConnection: close\r\n\r\n[]", True)
        r = api(t, "/images", url="https://localhost:%d" % port,
                env={"CONTREE_CA_FILE": ca.pem})
        if works:
            assert r.code == 0 and r.stdout.split() == ["status", "200", "[]"], \
                (ciphers, r)
        else:
            assert r.code == 1 and "TLS error" in r.stderr, (ciphers, r)
            assert not warnings(r), (ciphers, r.stderr)


def test_plain_server_on_https_url(t):
    r = api(t, "/images", url=t.fake.url.replace("http://127.0.0.1",
                                                 "https://localhost"))
    assert r.code == 1 and "TLS error" in r.stderr, r.stderr
    assert not warnings(r), "protocol failures are not retried: %r" % r.stderr


def test_session_resumed_on_reconnect(t):
    ca = Certs(t.tmp)
    cert, key = ca.leaf("good")
    t.fake
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    srv = subprocess.Popen(["openssl", "s_server", "-accept", str(port),
                            "-cert", cert, "-key", key, "-www", "-tls1_2"],
                           stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        import time
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        # s_server -www answers HTTP/1.0 and closes: each request needs a
        # new connection, which must resume the first session
        r = api(t, "-L", "debug", "-s", "-r", "3", "/x",
                url="https://localhost:%d" % port, env={"CONTREE_CA_FILE": ca.pem})
        assert r.code == 0, r.stderr
        assert stats(r)[0] == 3, r.stderr
        assert r.stderr.count("TLS session with localhost resumed") == 2, r.stderr
    finally:
        srv.kill()
        srv.wait()


def test_early_answer_to_upload_tls(t):
    from e2e_http import early_server
    ca = Certs(t.tmp)
    cert, key = ca.leaf("good")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    path = t.write("big", os.urandom(20 << 20))
    t.fake
    port = early_server(ctx)
    r = api(t, "-U", path, url="https://localhost:%d" % port,
            env={"CONTREE_CA_FILE": ca.pem})
    assert r.code == 1, r.stdout
    assert "API 413 Payload Too Large" in r.stderr, r.stderr


def test_cli_over_tls(t):
    """The contree binary itself over https: trusted through
    CONTREE_CA_FILE works (use, run, cat); without it the certificate is
    refused at once, with no retries."""
    t.start_fake(tls=True)
    ca = {"CONTREE_CA_FILE": t.fake.ca_file}
    r = t.run("-S", "tls", "use", "tag:alpine:3.19", env=ca)
    assert r.code == 0, r
    r = t.run("-S", "tls", "run", "-s", "echo secure > /tmp/x; cat /tmp/x", env=ca)
    assert r.code == 0 and r.out == b"secure\n", r
    r = t.run("-S", "tls", "cat", "/tmp/x", env=ca)
    assert r.code == 0 and r.out == b"secure\n", r
    r = t.run("images", env={"SSL_CERT_FILE": "/dev/null"})
    assert r.code == 1 and "TLS error" in r.stderr, r
    assert "[WARNING]" not in r.stderr, r.stderr


# ------------------------------------------------------- IP addresses

def _serve_once(ctx, family=socket.AF_INET, host="127.0.0.1"):
    """A TLS server answering one request with an empty image list."""
    s = socket.socket(family)
    s.bind((host, 0))
    s.listen(1)

    def serve():
        c, _ = s.accept()
        try:
            tc = ctx.wrap_socket(c, server_side=True)
            buf = b""
            while b"\r\n\r\n" not in buf:
                d = tc.recv(4096)
                if not d:
                    break
                buf += d
            body = b'{"images": []}'
            tc.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json"
                       b"\r\nContent-Length: %d\r\nConnection: close\r\n"
                       b"\r\n%s" % (len(body), body))
            tc.unwrap().close()
        except (ssl.SSLError, OSError):
            c.close()
        s.close()

    threading.Thread(target=serve, daemon=True).start()
    return s.getsockname()[1]


def _ctx(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def test_ip_san_matches_ip_literal(t):
    ca = Certs(t.tmp)
    cert, key = ca.leaf("ip", host="contree-ip", san="IP:127.0.0.1")
    t.fake  # only for the harness environment
    port = _serve_once(_ctx(cert, key))
    r = api(t, "-1", "/images", url="https://127.0.0.1:%d" % port,
            env={"CONTREE_CA_FILE": ca.pem})
    assert r.code == 0, r.stderr
    assert '"images"' in r.stdout, r.stdout


def test_ip_literal_not_matched_by_dns_names(t):
    ca = Certs(t.tmp)
    t.fake
    # a DNS name that reads like the IP, another IP, only a host name:
    # none of them is the iPAddress 127.0.0.1
    for n, san in enumerate(("DNS:127.0.0.1", "IP:127.0.0.2",
                             "DNS:localhost,IP:::1")):
        cert, key = ca.leaf("bad%d" % n, host="127.0.0.1", san=san)
        port = _serve_once(_ctx(cert, key))
        r = api(t, "/images", url="https://127.0.0.1:%d" % port,
                env={"CONTREE_CA_FILE": ca.pem})
        assert r.code == 1, (san, r.stdout)
        assert "certificate does not match the host name 127.0.0.1" in \
            r.stderr, (san, r.stderr)
        assert not warnings(r), r.stderr


def test_ip_san_chain_still_verified(t):
    # right IP, but signed by a CA we do not trust
    ca, other = Certs(t.tmp), Certs(os.path.join(t.tmp, "o"), "other")
    cert, key = other.leaf("ip", host="contree-ip", san="IP:127.0.0.1")
    t.fake
    port = _serve_once(_ctx(cert, key))
    r = api(t, "/images", url="https://127.0.0.1:%d" % port,
            env={"CONTREE_CA_FILE": ca.pem})
    assert r.code == 1, r.stdout
    assert "certificate is not trusted" in r.stderr, r.stderr


def test_ipv6_san(t):
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        return                  # no IPv6 loopback here
    ca = Certs(t.tmp)
    cert, key = ca.leaf("ip6", host="contree-ip6",
                        san="IP:0:0:0:0:0:0:0:1,IP:127.0.0.1")
    t.fake
    port = _serve_once(_ctx(cert, key), socket.AF_INET6, "::1")
    r = api(t, "-1", "/images", url="https://[::1]:%d" % port,
            env={"CONTREE_CA_FILE": ca.pem})
    assert r.code == 0, r.stderr
    cert, key = ca.leaf("ip6bad", host="contree-ip6", san="IP:127.0.0.1")
    port = _serve_once(_ctx(cert, key), socket.AF_INET6, "::1")
    r = api(t, "-1", "/images", url="https://[::1]:%d" % port,
            env={"CONTREE_CA_FILE": ca.pem})
    assert r.code == 1 and "does not match the host name ::1" in r.stderr, \
        r.stderr
