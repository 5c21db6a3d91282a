"""Self-signed certificates (via the openssl CLI) and the kubeconfig the emulator writes."""

import base64
import os
import ssl
import subprocess

import yaml


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def make_certs(directory):
    """A CA and a server certificate for 127.0.0.1/localhost signed by it. Returns
    (ca_path, cert_path, key_path)."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "server.ext"), "w", encoding="ascii") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    with open(os.path.join(directory, "ca.ext"), "w", encoding="ascii") as f:
        f.write("[v3_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,"
                "digitalSignature\nsubjectKeyIdentifier=hash\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "7",
             "-subj", "/CN=kube-emulator-ca", "-config", "ca.ext", "-extensions", "v3_ca", cwd=directory)
    _openssl("req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=kube-emulator",
             "-config", "ca.ext", cwd=directory)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "7", "-out", "server.crt", "-extfile", "server.ext", cwd=directory)
    return (os.path.join(directory, "ca.crt"), os.path.join(directory, "server.crt"),
            os.path.join(directory, "server.key"))


def server_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def write_kubeconfig(path, server_url, ca_path=None, token=None, namespace="default"):
    cluster = {"server": server_url}
    if ca_path:
        with open(ca_path, "rb") as f:
            cluster["certificate-authority-data"] = base64.b64encode(f.read()).decode()
    user = {"token": token} if token else {}
    config = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "kube-emulator", "cluster": cluster}],
        "users": [{"name": "kube-emulator", "user": user}],
        "contexts": [{"name": "kube-emulator", "context": {"cluster": "kube-emulator", "user": "kube-emulator",
                                                           "namespace": namespace}}],
        "current-context": "kube-emulator",
    }
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
