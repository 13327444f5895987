# An independent check of a signature made through PKCS#11: python3-cryptography verifies
# SIG over MESSAGE with the public key PEM (Ed25519 raw; ECDSA DER over SHA-256/SHA-384).
# Usage: verify_sig.py PUB.pem MESSAGE SIG; exit 0 when it verifies, 1 when not.
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

pub = serialization.load_pem_public_key(open(sys.argv[1], "rb").read())
message = open(sys.argv[2], "rb").read()
sig = open(sys.argv[3], "rb").read()
try:
    if isinstance(pub, ed25519.Ed25519PublicKey):
        pub.verify(sig, message)
    else:
        h = hashes.SHA384() if pub.curve.name == "secp384r1" else hashes.SHA256()
        pub.verify(sig, message, ec.ECDSA(h))
except InvalidSignature:
    print("signature does not verify")
    sys.exit(1)
print("OK", type(pub).__name__)
