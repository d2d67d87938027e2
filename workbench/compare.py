"""Two stubs side by side: what changed between them, raw and decoded.

Raw: the flavour and each section, added, removed or changed (size, SHA-256). Decoded: the
fields a person debugs with (command line, kernel and initrd references and hashes, policy,
os-release, SBAT, signature). With a ROOT, the predicted boot of both (workbench.preview).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.builder import file_sha256
from workbench.lookup import tree_of
from workbench.pe.image import PeImage
from workbench.stubinfo import FileRef, StubInfo, describe


@dataclass
class SectionChange:
    name: str
    change: str  # "added" | "removed" | "changed"
    size_a: int | None
    size_b: int | None
    sha256_a: str | None
    sha256_b: str | None


@dataclass
class FieldChange:
    field: str  # "cmdline", "kernel.sha256", "osrel.VERSION_ID", ...
    a: Any
    b: Any


@dataclass
class Comparison:
    a: Path
    b: Path
    flavour_a: str
    flavour_b: str
    identical_files: bool
    # Architectures as people say them ("x86_64", "arm64"): each stub's, and its kernel's when
    # known (embedded, or the file a thin stub names in the tree).
    arch_a: str = ""
    arch_b: str = ""
    kernel_arch_a: str | None = None
    kernel_arch_b: str | None = None
    sections: list[SectionChange] = field(default_factory=list)
    fields: list[FieldChange] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return self.identical_files or (
            self.flavour_a == self.flavour_b and not self.sections and not self.fields
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["a"], data["b"] = str(self.a), str(self.b)
        data["same"] = self.same
        return data


def _ref_fields(role: str, ref: FileRef | None) -> dict[str, Any]:
    if ref is None:
        return {f"{role}": None}
    return {
        f"{role}.path": ref.path,
        f"{role}.embedded_size": ref.embedded_size,
        f"{role}.sha256": ref.expected_sha256,
        f"{role}.hash_problem": ref.hash_problem,
        f"{role}.arch": ref.arch,
    }


def decoded_fields(info: StubInfo) -> dict[str, Any]:
    """The comparable, decoded view of a stub: flat names to plain values."""
    values: dict[str, Any] = {"arch": info.arch, "cmdline": info.cmdline, "uname": info.uname}
    values |= _ref_fields("kernel", info.kernel)
    values |= _ref_fields("initrd", info.initrd)
    values |= {f"policy.{key}": value for key, value in info.policy.items()}
    values |= {f"osrel.{key}": value for key, value in info.osrel.items()}
    values["sbat"] = [",".join(row) for row in info.sbat]
    values["signed"] = info.signed
    if info.signature is not None:
        values["signature.subject"] = info.signature.subject
        values["signature.issuer"] = info.signature.issuer
    return values


def _section_changes(a: PeImage, b: PeImage) -> list[SectionChange]:
    changes: list[SectionChange] = []
    names_a = [s.name for s in a.sections]
    names_b = [s.name for s in b.sections]
    for name in dict.fromkeys(names_a + names_b):
        in_a, in_b = a.section(name), b.section(name)
        if in_a is None and in_b is not None:
            changes.append(SectionChange(name, "added", None, in_b.data_size, None,
                                         b.section_sha256(in_b)))  # fmt: skip
        elif in_b is None and in_a is not None:
            changes.append(SectionChange(name, "removed", in_a.data_size, None,
                                         a.section_sha256(in_a), None))  # fmt: skip
        elif in_a is not None and in_b is not None:
            digest_a, digest_b = a.section_sha256(in_a), b.section_sha256(in_b)
            if digest_a != digest_b or in_a.data_size != in_b.data_size:
                changes.append(SectionChange(name, "changed", in_a.data_size, in_b.data_size,
                                             digest_a, digest_b))  # fmt: skip
    return changes


def compare(path_a: Path, path_b: Path, root: Path | None = None) -> Comparison:
    """Compare two PE files (and, with `root`, their predicted boots from that tree).
    WorkbenchError (one line) on a file that is not a PE image.

    A thin stub's kernel is looked up in `root`, else in the tree the stub sits in, else in the
    other stub's (an edited copy kept outside the tree).
    """
    tree_a, tree_b = (root, root) if root is not None else (tree_of(path_a), tree_of(path_b))
    tree_a, tree_b = tree_a or tree_b, tree_b or tree_a
    with PeImage.open(path_a) as a, PeImage.open(path_b) as b:
        # Both are PE files (a bad one is a one-line error above): each is hashed once.
        digest_a, digest_b = file_sha256(Path(path_a)).hex(), file_sha256(Path(path_b)).hex()
        info_a, info_b = describe(a, root=tree_a), describe(b, root=tree_b)
        comparison = Comparison(
            a=Path(path_a),
            b=Path(path_b),
            flavour_a=str(info_a.flavour),
            flavour_b=str(info_b.flavour),
            identical_files=digest_a == digest_b,
            arch_a=info_a.arch,
            arch_b=info_b.arch,
            kernel_arch_a=info_a.kernel.arch if info_a.kernel else None,
            kernel_arch_b=info_b.kernel.arch if info_b.kernel else None,
        )
        if comparison.identical_files:
            return comparison
        comparison.sections = _section_changes(a, b)
        fields_a, fields_b = decoded_fields(info_a), decoded_fields(info_b)
        if root is not None:
            fields_a |= _predicted(Path(path_a), root)
            fields_b |= _predicted(Path(path_b), root)
        for name in dict.fromkeys([*fields_a, *fields_b]):
            value_a, value_b = fields_a.get(name), fields_b.get(name)
            if value_a != value_b:
                comparison.fields.append(FieldChange(name, value_a, value_b))
        if not comparison.sections and not comparison.fields:
            # Same sections, same meaning: the headers or the bytes between sections differ.
            comparison.fields.append(FieldChange("file.sha256", digest_a, digest_b))
    return comparison


def _predicted(stub: Path, root: Path) -> dict[str, Any]:
    from workbench.preview import preview

    result = preview(stub, root)
    return {
        f"boot.{mode.mode}": "boots" if mode.boots else f"fails: {mode.error_line}"
        # IPv6 boots differ only in the server's address: left out.
        for mode in (result.local, result.net, result.http)
    }
