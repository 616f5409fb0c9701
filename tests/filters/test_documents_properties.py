"""Properties of the document signals (TDMRep, RSL, licence): never raise, monotone, stable."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from filters import license as lic
from filters import rsl, tdmrep
from filters.headers import Headers
from filters.model import DocState, FetchOutcome, Purpose, Verdict
from filters.patterns import url_path

FAST = settings(max_examples=200, deadline=None)
WK = "https://example.com/.well-known/tdmrep.json"
SEGMENT = st.sampled_from(["a", "b", "news", "x.pdf", "*", "%41", "é", "$", "?q=1"])
LOCATION = st.lists(SEGMENT, max_size=4).map(lambda s: "/" + "/".join(s))
VALUE = st.sampled_from([0, 1, "0", "1", True, False, 2, "yes", None])
RULE = st.fixed_dictionaries(
    {"location": LOCATION, "tdm-reservation": VALUE},
    optional={"tdm-policy": st.just("https://p.example/policy")},
)
URL = st.lists(SEGMENT, max_size=4).map(lambda s: "https://example.com/" + "/".join(s))
STEP = st.lists(st.sampled_from(["0", "1", "2", "", "x", "1, 0"]), max_size=3)


def _outcome(body: bytes, ctype: str | None) -> FetchOutcome:
    headers = Headers({"Content-Type": ctype}) if ctype else Headers()
    return FetchOutcome(url=WK, status=200, headers=headers, body=body)


CTYPE = st.sampled_from([None, "application/json", "text/html", "application/xml", "text/plain"])


@FAST
@given(st.binary(max_size=2000), CTYPE)
def test_tdmrep_never_raises_on_bytes(body: bytes, ctype: str | None) -> None:
    policy = tdmrep.policy_from_fetch(_outcome(body, ctype))
    result = tdmrep.evaluate_file(policy, "https://example.com/a")
    assert (result.verdict is Verdict.ERROR) == (policy.state in (DocState.INVALID,))


@FAST
@given(st.binary(max_size=2000), CTYPE)
def test_rsl_never_raises_on_bytes(body: bytes, ctype: str | None) -> None:
    policy = rsl.policy_from_fetch(_outcome(body, ctype))
    for purpose in Purpose:
        result = rsl.evaluate(policy, "https://example.com/a", purpose)
        assert (result.verdict is Verdict.ERROR) == (policy.state is DocState.INVALID)


@FAST
@given(st.text(max_size=200))
def test_license_never_raises(text: str) -> None:
    tag = lic.normalize(text)
    assert tag == "LicenseRef-url" or "CC" in tag
    info = lic.choose([(text, "meta")])
    assert info.license is None or isinstance(info.license, str)


@FAST
@given(st.lists(RULE, max_size=8), URL)
def test_tdmrep_matcher_equals_first_matching_rule(rules: list[dict[str, object]], url: str):
    policy = tdmrep.parse(json.dumps(rules).encode())
    path = url_path(url)
    first = next((r for r in policy.rules if r.pattern.matches(path)), None)
    result = tdmrep.evaluate_file(policy, url)
    if first is None:
        assert result.verdict is Verdict.NONE and result.raw is None
    else:
        assert result is first.result


@FAST
@given(st.lists(RULE, max_size=6), URL, STEP, STEP, STEP, STEP, st.integers(0, 2))
def test_adding_a_reservation_never_turns_deny_into_keep(
    rules, url, header, header_policy, meta, meta_policy, where
) -> None:
    def run(file_rules, hdr, mt):
        policy = tdmrep.parse(json.dumps(file_rules).encode())
        return tdmrep.evaluate(
            policy,
            url,
            header_reservation=hdr,
            header_policy=header_policy,
            meta_reservation=mt,
            meta_policy=meta_policy,
        )

    before = run(rules, header, meta)
    if where == 0:
        after = run([*rules, {"location": "/", "tdm-reservation": 1}], header, meta)
    elif where == 1:
        after = run(rules, [*header, "1"], meta)
    else:
        after = run(rules, header, [*meta, "1"])
    if before.verdict is Verdict.DENY:
        assert after.verdict is Verdict.DENY
    if where != 0:  # a reservation in the last step or the header: deny unless meta says 0
        assert after.verdict is Verdict.DENY or (where == 1 and "0" in "".join(meta))


@FAST
@given(
    st.lists(
        st.sampled_from(["ai-train", "ai-input", "search", "all", "ai-all", "ai-index"]), max_size=3
    ),
    st.sampled_from(list(Purpose)),
)
def test_rsl_adding_a_prohibition_never_turns_deny_into_keep(tokens: list[str], purpose: Purpose):
    def run(prohibits: list[str]) -> Verdict:
        xml = (
            '<rsl xmlns="https://rslstandard.org/rsl"><content url="/"><license>'
            f'<permits type="usage">{" ".join(tokens)}</permits>'
            f'<prohibits type="usage">{" ".join(prohibits)}</prohibits>'
            "</license></content></rsl>"
        )
        return rsl.evaluate(rsl.parse(xml.encode()), "https://e.com/x", purpose).verdict

    before = run([])
    after = run(["ai-train", "ai-input", "search"])
    assert after is Verdict.DENY
    if before is Verdict.DENY:
        assert after is Verdict.DENY


@FAST
@given(st.binary(max_size=500), URL)
def test_deterministic(body: bytes, url: str) -> None:
    for module in (tdmrep, rsl):
        a = module.parse(body)
        b = module.parse(body)
        assert a == b
    assert tdmrep.evaluate_file(tdmrep.parse(body), url) == tdmrep.evaluate_file(
        tdmrep.parse(body), url
    )
    for purpose in Purpose:
        assert rsl.evaluate(rsl.parse(body), url, purpose) == rsl.evaluate(
            rsl.parse(body), url, purpose
        )


@FAST
@given(
    st.sampled_from(["https://", "http://", "HTTP://", "ftp://", "", "//"]),
    st.text(alphabet="abc.:@[]%-", max_size=12),
    st.text(alphabet="/?#=&%ab é*$\t", max_size=20),
)
def test_tdmrep_fast_path_equals_url_path(scheme: str, host: str, rest: str) -> None:
    url = scheme + host + rest
    assert tdmrep._path_of(url) == url_path(url)
