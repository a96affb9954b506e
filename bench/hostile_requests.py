"""Seeded hostile HTTP requests: mutated XML, broken multipart, odd URLs, headers, credentials and JSON bodies.

One generator feeds both ``tests/protocol/test_hostile.py`` (a few hundred small requests through the Flask test
client) and ``bench/hostile.py`` (thousands, with large bodies, against a ``qingling serve`` process on
127.0.0.1). The same seed gives the same requests. Every request target is printable ASCII with everything
else percent-encoded, and header values carry no CR or LF, so each request can be sent as it is over a real
socket; what reaches the application is then what a hostile client could make reach it.

``scale`` multiplies the size of the large bodies (text fields, wide and deep XML, JSON): 1 keeps every body
under about 1.3 MB, for tests; the benchmark uses a larger scale to show what holds on to memory.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

COLLECT_HEADERS = (
    ("X-OpenRosa-Version", "1.0"),
    ("User-Agent", "org.odk.collect.android/v2025.3.0 Dalvik/2.1.0 (Linux; U; Android 14; Pixel 7)"),
    ("Date", "Tue, 05 Mar 2024 02:05:09 GMT"),
)
MAX_INT64 = 2**63 - 1


@dataclass(frozen=True)
class Target:
    """What the traffic aims at: a published form with image fields, a phone token and a supervisor."""

    token: str
    project_id: int
    form_id: str
    form_version: str
    image_fields: tuple[str, ...]
    email: str
    password: str
    instance_id: str  # an accepted submission, for the review PATCH and the submission URLs


@dataclass(frozen=True)
class HostileRequest:
    kind: str
    method: str
    target: str  # path and query as sent on the request line
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def openrosa(self) -> bool:
        """Whether the URL is one of the phone URLs, whose refusals are OpenRosa XML."""
        path = self.path.lower()
        return "/key/" in path or path.rstrip("/").endswith(("/formlist", "/submission", "/manifest"))


def hostile_requests(target: Target, count: int, seed: int, scale: int = 1) -> Iterator[HostileRequest]:
    """``count`` requests drawn from every kind in turn, deterministic for a given ``seed``."""
    maker = _Maker(target, random.Random(seed), scale)
    kinds = maker.kinds()
    for index in range(count):
        name, make = kinds[index % len(kinds)]
        yield make(name)


def multipart_body(parts: list[tuple[str, str | None, str | None, bytes]], boundary: str) -> bytes:
    """A multipart/form-data body from (field name, filename or None, content type or None, data)."""
    out = bytearray()
    for name, filename, content_type, data in parts:
        out += f"--{boundary}\r\n".encode()
        disposition = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += disposition.encode("utf-8", "surrogateescape") + b"\r\n"
        if content_type is not None:
            out += f"Content-Type: {content_type}\r\n".encode("utf-8", "surrogateescape")
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


class _Maker:
    def __init__(self, target: Target, rng: random.Random, scale: int) -> None:
        self.t = target
        self.rng = rng
        self.scale = scale
        self.serial = 0

    def kinds(self) -> list[tuple[str, Callable[[str], HostileRequest]]]:
        return [
            ("xml-mutated", self.xml_mutated),
            ("url-ids", self.url_ids),
            ("json-deep", self.json_deep),
            ("xml-deep", self.xml_deep),
            ("multipart-broken", self.multipart_broken),
            ("url-query", self.url_query),
            ("xml-encoding", self.xml_encoding),
            ("credentials", self.credentials),
            ("json-invalid", self.json_invalid),
            ("xml-identifiers", self.xml_identifiers),
            ("multipart-many-parts", self.multipart_many_parts),
            ("url-paths", self.url_paths),
            ("xml-wide", self.xml_wide),
            ("headers", self.headers),
            ("json-large", self.json_large),
            ("multipart-text-field", self.multipart_text_field),
            ("attachments", self.attachments),
            ("xml-doctype", self.xml_doctype),
            ("xml-large-text", self.xml_large_text),
        ]

    # -- helpers ---------------------------------------------------------------------------------------------

    def choice(self, options):  # noqa: ANN001, ANN201
        return options[self.rng.randrange(len(options))]

    def instance_id(self) -> str:
        self.serial += 1
        return f"uuid:hostile-{self.rng.getrandbits(48):012x}-{self.serial}"

    def basic(self) -> tuple[str, str]:
        raw = f"{self.t.email}:{self.t.password}".encode()
        return ("Authorization", "Basic " + base64.b64encode(raw).decode())

    def submission_url(self, token: str | None = None) -> str:
        return f"/v1/key/{token or self.t.token}/projects/{self.t.project_id}/submission?deviceID=collect%3Ahostile"

    def instance(
        self, instance_id: str | None = None, fields: str = "", meta: str = "", declaration: str = ""
    ) -> bytes:
        declaration = declaration or '<?xml version="1.0" encoding="UTF-8"?>'
        instance_id = instance_id if instance_id is not None else self.instance_id()
        return (
            f'{declaration}<data xmlns:orx="http://openrosa.org/xforms" id="{self.t.form_id}" '
            f'version="{self.t.form_version}"><name>hostile</name>{fields}'
            f"<orx:meta><orx:instanceID>{instance_id}</orx:instanceID>{meta}</orx:meta></data>"
        ).encode()

    def submit(self, kind: str, parts: list, *, boundary: str | None = None, extra: tuple = ()) -> HostileRequest:
        boundary = boundary or f"hostile{self.rng.getrandbits(64):016x}"
        headers = (*COLLECT_HEADERS, ("Content-Type", f"multipart/form-data; boundary={boundary}"), *extra)
        return HostileRequest(kind, "POST", self.submission_url(), headers, multipart_body(parts, boundary))

    def submit_xml(self, kind: str, xml: bytes) -> HostileRequest:
        return self.submit(kind, [("xml_submission_file", "instance.xml", "text/xml", xml)])

    def api(self, kind: str, method: str, path: str, body: bytes = b"", content_type: str = "") -> HostileRequest:
        headers: tuple[tuple[str, str], ...] = (self.basic(),)
        if content_type:
            headers += (("Content-Type", content_type),)
        return HostileRequest(kind, method, path, headers, body)

    def json_url(self) -> tuple[str, str]:
        form = quote(self.t.form_id, safe="")
        instance = quote(self.t.instance_id, safe="")
        return self.choice(
            [
                ("POST", "/v1/sessions"),
                ("PATCH", f"/v1/projects/{self.t.project_id}/forms/{form}/submissions/{instance}"),
                ("PATCH", f"/v1/projects/{self.t.project_id}/flags/1"),
            ]
        )

    def big(self, size: int) -> int:
        return size * self.scale

    # -- mutated and hostile XML -----------------------------------------------------------------------------

    def xml_mutated(self, kind: str) -> HostileRequest:
        xml = bytearray(self.instance(fields="<photo>p.jpg</photo><loc>40.1 111.2 0 5</loc>"))
        for _ in range(self.rng.randint(1, 6)):
            at = self.rng.randrange(len(xml))
            action = self.rng.randrange(5)
            if action == 0:
                xml[at] = self.rng.randrange(256)
            elif action == 1:
                xml[at:at] = bytes([self.choice(b"<>&\"'/=\x00\xff\xfe ")])
            elif action == 2:
                del xml[at : at + self.rng.randint(1, 20)]
            elif action == 3:
                end = min(len(xml), at + self.rng.randint(1, 40))
                xml[at:at] = xml[at:end] * self.rng.randint(2, 50)
            else:
                xml = xml[:at]
        return self.submit_xml(kind, bytes(xml))

    def xml_deep(self, kind: str) -> HostileRequest:
        depth = self.choice([200, 1_000, 5_000, self.big(20_000), self.big(60_000)])
        tag = self.choice(["a", "name", "g"])
        inner = f"<{tag}>" * depth + "x" + f"</{tag}>" * depth
        if self.rng.random() < 0.3:
            inner = f"<{tag}>" * depth  # never closed
        return self.submit_xml(kind, self.instance(fields=inner))

    def xml_wide(self, kind: str) -> HostileRequest:
        count = self.choice([1_000, self.big(5_000), self.big(25_000)])
        element = self.choice(["<a/>", "<name>n</name>", "<photo>p.jpg</photo>", '<x a="1" b="2"/>'])
        return self.submit_xml(kind, self.instance(fields=element * count))

    def xml_large_text(self, kind: str) -> HostileRequest:
        size = self.choice([self.big(300_000), self.big(1_000_000)])
        return self.submit_xml(kind, self.instance(fields=f"<remarks>{'字' * (size // 3)}</remarks>"))

    def xml_encoding(self, kind: str) -> HostileRequest:
        encoding = self.choice(
            ["x-unknown", "utf-16", "UTF-32", "ebcdic", "cp037", "utf-7", "shift_jis", "gb18030", "latin-1",
             "us-ascii", "", "utf-8\x00", "' bad='1", "hex", "rot13", "zip", "base64", "idna", "punycode", "mbcs"]
        )
        declaration = f'<?xml version="1.0" encoding="{encoding}"?>'
        xml = self.instance(declaration=declaration, fields="<name>名字</name>")
        if self.rng.random() < 0.3:
            xml = xml.decode().encode("utf-16")
        return self.submit_xml(kind, xml)

    def xml_doctype(self, kind: str) -> HostileRequest:
        doctype = self.choice(
            [
                '<!DOCTYPE data [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
                '<!DOCTYPE data [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
                '<!DOCTYPE data SYSTEM "http://127.0.0.1:1/evil.dtd">',
                '<!DOCTYPE data [<!ELEMENT data ANY>]>',
            ]
        )
        xml = self.instance(declaration='<?xml version="1.0"?>' + doctype, fields="<name>&a;</name>")
        return self.submit_xml(kind, xml)

    def xml_identifiers(self, kind: str) -> HostileRequest:
        odd = self.choice(
            [
                "uuid:a/b", "uuid:../../etc", "uuid:a%2Fb", "uuid:?x=1#y", "uuid: spaced ", "uuid:名字", "",
                "uuid:" + "x" * 300, "uuid:" + "y" * self.big(100_000), "uuid:a\tb", "uuid:&#x1;", "uuid:&lt;b&gt;",
                "uuid:" + "ß" * 150,
            ]
        )
        where = self.rng.randrange(4)
        if where == 0:
            xml = self.instance(instance_id=odd)
        elif where == 1:
            name = "n" * self.choice([10, 600, self.big(50_000)])
            xml = self.instance(meta=f"<orx:instanceName>{name}</orx:instanceName>")
        elif where == 2:
            xml = self.instance(meta=f"<orx:deprecatedID>{odd}</orx:deprecatedID>")
        else:
            form_id = self.choice(["", "x" * 5000, "a/b", "名字", self.t.form_id + "\t"])
            xml = self.instance().replace(f'id="{self.t.form_id}"'.encode(), f'id="{form_id}"'.encode())
        request = self.submit_xml(kind, xml)
        if self.rng.random() < 0.3:
            device = self.choice(["x" * 300, "y" * self.big(20_000), "%00", "%0D%0Aforged", "%FF%FE"])
            request = HostileRequest(
                kind, request.method, request.target.replace("collect%3Ahostile", device), request.headers, request.body
            )
        return request

    # -- multipart -------------------------------------------------------------------------------------------

    def multipart_broken(self, kind: str) -> HostileRequest:
        xml = self.instance()
        boundary = "b" + "x" * self.choice([1, 70, 200])
        body = multipart_body([("xml_submission_file", "i.xml", "text/xml", xml)], boundary)
        variant = self.rng.randrange(9)
        content_type = f"multipart/form-data; boundary={boundary}"
        if variant == 0:
            content_type = "multipart/form-data"
        elif variant == 1:
            content_type = "multipart/form-data; boundary=other"
        elif variant == 2:
            body = body[: self.rng.randrange(len(body))]
        elif variant == 3:
            body = body.replace(b"\r\n\r\n", b"\r\n", 1)
        elif variant == 4:
            body = body.replace(b'name="xml_submission_file"; filename="i.xml"', b'name="xml_submission_file"')
        elif variant == 5:
            body = body.replace(b'filename="i.xml"', b"filename*=UTF-8''%E5%90%8D%00.xml")
        elif variant == 6:
            body = body.replace(b"i.xml", b"\xff\xfe\x00.xml")
        elif variant == 7:
            body = self.rng.randbytes(self.rng.randint(0, 4000))
        else:
            content_type = self.choice(["text/xml", "application/x-www-form-urlencoded", "multipart/mixed", ""])
        headers = (*COLLECT_HEADERS, ("Content-Type", content_type))
        return HostileRequest(kind, "POST", self.submission_url(), headers, body)

    def multipart_many_parts(self, kind: str) -> HostileRequest:
        count = self.choice([50, 999, 1_001, 1_500])
        size = self.choice([1, 100, 2_000 * self.scale])
        parts = [("xml_submission_file", "i.xml", "text/xml", self.instance(fields="<photo>p0.jpg</photo>"))]
        text_fields = self.rng.random() < 0.3
        for n in range(count):
            data = self.rng.randbytes(size)
            name = f"p{n}.jpg"
            parts.append((name, None, None, data) if text_fields else (name, name, "image/jpeg", data))
        return self.submit(kind, parts)

    def multipart_text_field(self, kind: str) -> HostileRequest:
        size = self.choice([1_100_000, self.big(1_200_000)])
        parts = [
            ("xml_submission_file", "i.xml", "text/xml", self.instance()),
            (self.choice(["*isIncomplete*", "notes"]), None, None, b"y" * size),
        ]
        return self.submit(kind, parts)

    def attachments(self, kind: str) -> HostileRequest:
        """Accepted submissions whose files claim dangerous types, or carry odd names the XML never names."""
        field = self.choice(self.t.image_fields)
        name = self.choice(["x.html", "x.svg", "p.jpg", "x.htm", "evil.xml"])
        content_type = self.choice(["text/html", "image/svg+xml", "image/jpeg", "application/xhtml+xml", "text/xml"])
        data = self.choice(
            [
                b"<html><script>alert(document.cookie)</script></html>",
                b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
                b"\xff\xd8\xff\xe0<script>alert(1)</script>",
            ]
        )
        parts = [("xml_submission_file", "i.xml", "text/xml", self.instance(fields=f"<{field}>{name}</{field}>"))]
        parts.append((name, name, content_type, data))
        if self.rng.random() < 0.5:
            odd = self.choice(["../../x", "a\x01b", "con:", " lead", "x" * 300, "..", "%2e%2e"])
            parts.append((odd, odd, "text/plain", b"unreferenced"))
        return self.submit(kind, parts)

    # -- URLs, queries, headers, credentials -----------------------------------------------------------------

    def odd_number(self) -> str:
        return self.choice(
            ["0", "-1", str(MAX_INT64), str(MAX_INT64 + 1), str(2**64), "1" + "0" * 30, "%C2%B2", "%D9%A3", "1e3",
             "+1", "%201", "01", "1.0", "0x1", "%00", "%EF%BC%91", "9" * 400]
        )

    def url_ids(self, kind: str) -> HostileRequest:
        p, form, n = self.odd_number(), quote(self.t.form_id, safe=""), self.odd_number()
        name = self.choice([form, "%00", "a%2Fb", "x" * 2000, "%E5%90%8D", "..", "%2E%2E", "a%0D%0Ab"])
        token = self.t.token
        routes = [
            ("GET", f"/v1/key/{token}/projects/{p}/formList", True),
            ("HEAD", f"/v1/key/{token}/projects/{p}/submission", True),
            ("GET", f"/v1/key/{token}/projects/{self.t.project_id}/forms/{name}.xml", True),
            ("GET", f"/v1/key/{token}/projects/{self.t.project_id}/forms/{name}/manifest", True),
            ("GET", f"/v1/projects/{p}/formList", True),
            ("GET", f"/v1/projects/{p}", False),
            ("GET", f"/v1/projects/{p}/forms", False),
            ("GET", f"/v1/projects/{self.t.project_id}/forms/{name}/submissions", False),
            ("GET", f"/v1/projects/{self.t.project_id}/forms/{form}/submissions/{name}", False),
            ("GET", f"/v1/projects/{self.t.project_id}/forms/{form}/submissions/{name}/attachments", False),
            ("GET", f"/v1/projects/{p}/registry/households", False),
            ("GET", f"/v1/projects/{self.t.project_id}/registry/households/{name}", False),
            ("GET", f"/v1/projects/{p}/flags", False),
            ("PATCH", f"/v1/projects/{p}/flags/{n}", False),
            ("PATCH", f"/v1/projects/{self.t.project_id}/flags/{n}", False),
            ("GET", f"/v1/projects/{p}/datasets/{name}/entities", False),
            ("GET", f"/v1/projects/{self.t.project_id}/datasets/households/entities/{name}/versions", False),
            ("GET", f"/v1/projects/{p}/registry/clearance?area=150102", False),
        ]
        method, path, phone = self.choice(routes)
        headers: tuple[tuple[str, str], ...] = COLLECT_HEADERS if phone else ()
        if not path.startswith("/v1/key/"):
            headers += (self.basic(),)
        body = b'{"state": "resolved"}' if method == "PATCH" else b""
        if body:
            headers += (("Content-Type", "application/json"),)
        return HostileRequest(kind, method, path, headers, body)

    def url_query(self, kind: str) -> HostileRequest:
        value = self.choice(
            [self.odd_number(), "", "%00", "abc", "-0", "%E2%80%8F1", "2026-02-30", "99999-01-01", "%0D%0A", "x" * 5000]
        )
        form = quote(self.t.form_id, safe="")
        base = f"/v1/projects/{self.t.project_id}"
        path = self.choice(
            [
                f"{base}/forms/{form}/submissions?$top={value}",
                f"{base}/forms/{form}/submissions?$skip={value}",
                f"{base}/forms/{form}/submissions?$top=1&$skip={value}&$count=true",
                f"{base}/registry/clearance?area={value}",
                f"{base}/registry/clearance?area=150102&date={value}",
                f"{base}/registry/households?village={value}",
                f"{base}/flags?kind={value}&state={value}&household={value}",
                f"/v1/key/{self.t.token}/projects/{self.t.project_id}/formList?formID={value}",
            ]
        )
        headers = COLLECT_HEADERS if "/key/" in path else (self.basic(),)
        return HostileRequest(kind, "GET", path, headers)

    def url_paths(self, kind: str) -> HostileRequest:
        token, p = self.t.token, self.t.project_id
        path = self.choice(
            [
                f"//v1//key//{token}//projects//{p}//formList",
                f"/V1/key/{token}/projects/{p}/formList",
                f"/v1/KEY/{token}/projects/{p}/formList",
                f"/v1/key/{token}/projects/{p}/formList%0D%0A127.0.0.1 GET /forged 200",
                f"/v1/key/{token}/projects/{p}/form%00List",
                f"/v1/key/{token}/nothing%00here",
                f"/v1/key/{token}/projects/{p}/forms/%00.xml",
                f"/v1/key/{token}/../../healthz",
                f"/v1/key/{token}%2F..%2F..%2Fhealthz",
                f"/v1/key/{token}/projects/{p}/" + "a/" * 500,
                "/v1/key/" + "t" * 3000 + f"/projects/{p}/formList",
                f"/v1/key/{token.upper()}/projects/{p}/formList",
                f"/v1/key/{token}/projects/{p}/formList/",
                "/v1/key//projects/1/formList",
                "/%FF%FE/v1",
                "/v1/%E2%80%AE/x",
                "/healthz%0D%0ASet-Cookie:%20x=1",
            ]
        )
        method = self.choice(["GET", "GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
        return HostileRequest(kind, method, path, COLLECT_HEADERS)

    def headers(self, kind: str) -> HostileRequest:
        token, p = self.t.token, self.t.project_id
        variant = self.rng.randrange(8)
        headers: list[tuple[str, str]] = list(COLLECT_HEADERS)
        path = f"/v1/key/{token}/projects/{p}/formList"
        if variant == 0:
            headers = [h for h in headers if h[0] != "X-OpenRosa-Version"]
        elif variant == 1:
            headers[0] = ("X-OpenRosa-Version", self.choice(["2.0", "", "1.0 ", "1.0\x00", "x" * 2000]))
        elif variant == 2:
            headers.append(("Host", self.choice(["evil.example", "evil.example:8383", "127.0.0.1:1", "[::1]"])))
        elif variant == 3:
            headers.append(("If-None-Match", self.choice(['"x', "*", "W/" * 500, '"' + "a" * 5000 + '"'])))
            path = f"/v1/key/{token}/projects/{p}/forms/{quote(self.t.form_id, safe='')}.xml"
        elif variant == 4:
            headers.append(("Range", self.choice(["bytes=0-0", "bytes=-1", "bytes=9999999999999999999-", "x"])))
        elif variant == 5:
            headers.append(("X-Forwarded-Host", "evil.example"))
            headers.append(("X-Forwarded-Proto", "https"))
        elif variant == 6:
            headers.append(("User-Agent", "u" * self.choice([600, 8000])))
            return self.submit("headers", [("xml_submission_file", "i.xml", "text/xml", self.instance())],
                               extra=tuple(headers[-1:]))
        else:
            headers.append(("Accept", "*/*;q=" + "9" * 500))
            headers.append(("Content-Type", "multipart/form-data; boundary=" + "=" * 300))
        return HostileRequest(kind, "GET", path, tuple(headers))

    def credentials(self, kind: str) -> HostileRequest:
        p = self.t.project_id
        value = self.choice(
            [
                "Basic " + base64.b64encode(b"nobody@example.org:wrong password").decode(),
                "Basic " + base64.b64encode(b"no colon at all").decode(),
                "Basic " + base64.b64encode(b"\xff\xfe:\x00").decode(),
                "Basic " + base64.b64encode(b"nul\x00@example.org:x").decode(),
                "Basic " + base64.b64encode(("x" * 3000 + "@example.org:p").encode()).decode(),
                "Basic !!!not base64!!!",
                "Basic ",
                "Bearer ",
                "Bearer " + "a" * 4000,
                "Bearer eyJ1IjoxLCJwIjoiYWJjIn0.ZZZZZZ.signature",
                "Bearer eyJ1Ijo5MjIzMzcyMDM2ODU0Nzc1ODA4fQ.Zx.sig",
                "Digest username=x",
                "Basic\x00" + "x",
            ]
        )
        path = self.choice([f"/v1/projects/{p}/formList", f"/v1/projects/{p}/forms", "/v1/users/current"])
        headers = (*COLLECT_HEADERS, ("Authorization", value))
        if self.rng.random() < 0.4:
            token = self.choice(["x", "a" * 64, "%00", "A" * 2000, self.t.token[:-1], self.t.token + "x", "%2F"])
            return HostileRequest(kind, "GET", f"/v1/key/{token}/projects/{p}/formList", COLLECT_HEADERS)
        return HostileRequest(kind, "GET", path, headers)

    # -- JSON bodies -----------------------------------------------------------------------------------------

    def json_deep(self, kind: str) -> HostileRequest:
        depth = self.choice([100, 2_000, 20_000, self.big(100_000)])
        opener = self.choice(["[", '{"a":', '{"email":[', '[{"reviewState":'])
        body = (opener * depth).encode()
        if self.rng.random() < 0.5:
            closer = {"[": "]", '{"a":': "}", '{"email":[': "]}", '[{"reviewState":': "}]"}[opener]
            body = (opener * depth + "1" + closer * depth).encode()
        method, path = self.json_url()
        return self.api(kind, method, path, body, "application/json")

    def json_invalid(self, kind: str) -> HostileRequest:
        body = self.choice(
            [
                b"", b"{", b"null", b"[]", b"\"str\"", b"1e999999", b"9" * 5000, b"NaN", b"\xef\xbb\xbf{}",
                b'{"email": "a", "email": "b"}', b'{"email": {"$ne": 1}, "password": []}',
                b'{"email": "nul\\u0000@example.org", "password": "x\\u0000"}', b"\xff\xfe{\x00}",
                b'{"reviewState": "approved\\u0000"}', b'{"state": ["resolved"]}', b'{"state": "\\ud800"}',
                b'{"reviewState": null}', json.dumps({"email": "e" * 100_000, "password": "p"}).encode(),
                b'"' + b'\\"' * 100_000,
            ]
        )
        content_type = self.choice(["application/json", "application/json; charset=latin-1", "text/plain", ""])
        method, path = self.json_url()
        return self.api(kind, method, path, body, content_type)

    def json_large(self, kind: str) -> HostileRequest:
        size = self.choice([300_000, self.big(1_000_000)])
        body = self.choice(
            [
                ("[" + "1," * (size // 2) + "1]").encode(),
                json.dumps({"email": "x" * size, "password": "y"}).encode(),
                ("{" + ",".join(f'"k{n}":{n}' for n in range(size // 10)) + "}").encode(),
            ]
        )
        method, path = self.json_url()
        return self.api(kind, method, path, body, "application/json")
