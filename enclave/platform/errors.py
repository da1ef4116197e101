"""Why the platform rejected evidence or a sealed blob: one exception type per reason.

Two families (STYLE.md, h11): a caller that misuses the API (wrong report data length, a naive datetime) gets
a plain `ValueError`; bytes that came from outside (a peer's evidence, a sealed blob read back from the
untrusted disk) get a `PlatformError` subclass that names what was wrong, and nothing changes.
"""

from __future__ import annotations


class PlatformError(Exception):
    """Base of every rejection of outside bytes by the platform."""


class EvidenceRejected(PlatformError):
    """The evidence does not prove what the verifier requires (DESIGN.md section 4, join)."""


class MalformedEvidence(EvidenceRejected):
    """Truncated, garbage, wrong field lengths or trailing bytes: not parseable as evidence."""


class UnsupportedEvidenceVersion(EvidenceRejected):
    """The evidence (or its report) declares a format version this code does not know."""


class UnknownPlatform(EvidenceRejected):
    """The evidence names a platform that is not one of our backends."""


class InvalidEvidenceSignature(EvidenceRejected):
    """The report's signature does not verify with the endorsed attestation key (forged or modified)."""


class InvalidEndorsementChain(EvidenceRejected):
    """A certificate of the chain is not signed by the next one, or is not a CA where it must be."""


class UntrustedRoot(EvidenceRejected):
    """The endorsement chain does not end at a pinned vendor root."""


class RootOfOtherPlatform(EvidenceRejected):
    """The chain ends at another backend's pinned root: one TEE's key vouching for another's report."""


class CertificateNotValidAt(EvidenceRejected):
    """A certificate of the chain is expired or not yet valid at the verification time."""


class MeasurementNotAllowed(EvidenceRejected):
    """The attested code measurement is not on the allow-list (governance owns the list)."""


class SecurityVersionTooLow(EvidenceRejected):
    """The attested security version is below the policy's minimum."""


class ReportDataMismatch(EvidenceRejected):
    """The report data binds another identity key: evidence replayed by a node that does not hold the key."""


class NonceMismatch(EvidenceRejected):
    """The report data binds the right key but not the verifier's freshness nonce (a stale report)."""


class ForeignEnclave(EvidenceRejected):
    """A well-signed report of code that is not a sealchain enclave (other product, author or VTL)."""


class UnsealError(PlatformError):
    """A sealed blob cannot be unsealed by this enclave on this machine."""


class MalformedSealedBlob(UnsealError):
    """Truncated or garbage: not parseable as a sealed blob."""


class UnsupportedSealedBlobVersion(UnsealError):
    """The sealed blob declares a format version this code does not know."""


class SealedOnOtherMachine(UnsealError):
    """The blob was sealed with another machine's sealing secret."""


class SealedForOtherCode(UnsealError):
    """The blob was sealed to another measurement: different trusted code may not read it."""


class SealedBlobTampered(UnsealError):
    """Authentication failed: the ciphertext, its header or the sealing context was modified."""
