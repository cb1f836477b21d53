"""The PubMed Central caption corpus builder (`brainvlm.pmc`, chapter 03b) on recorded answers, with the network
blocked: the `{"image", "caption"}` list the pre-training reads, its provenance, resuming after
a run is interrupted or a request fails, and an API key that never reaches a file."""
import argparse, json, socket
from pathlib import Path

import pytest
from PIL import Image

from brainvlm.core import ConfigError, DataError
from brainvlm.pmc import (CAPTIONS_FILE, STATE_FILE, FetchError, HTTPFetch, RecordedFetch, add_pmc_command, build_pmc_corpus,
                          eutils_url, host_rates)

FIXTURES = Path(__file__).parent / "fixtures" / "pmc"
QUERY = "brain MRI"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    "Every test runs with sockets unable to connect or resolve a name, and without an NCBI API key."
    def refuse(*args, **kwargs): raise OSError("network blocked in tests")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.delenv("NCBI_API_KEY", raising=False)


def build(out, fetch=None, **kw):
    return build_pmc_corpus(QUERY, out, **{"max_articles": 5, "progress": False, "fetch": fetch or RecordedFetch(FIXTURES), **kw})


def read(out, name=CAPTIONS_FILE):
    return json.loads((Path(out) / name).read_text())


def test_pairs_are_what_the_pretraining_reads(tmp_path):
    summary = build(tmp_path)
    pairs = read(tmp_path)
    assert summary["pairs"] == len(pairs) == 5
    for p in pairs:
        image = (tmp_path / p["image"]).resolve()
        assert not Path(p["image"]).is_absolute() and image.is_relative_to(tmp_path.resolve())   # relative, inside the folder
        assert Path(p["image"]).parts[:2] == ("images", p["pmcid"])
        with Image.open(image) as im: im.verify()
        assert p["caption"] and p["figure_id"] and p["source_url"].startswith("https://pmc-oa-opendata.s3.amazonaws.com/")
    assert {p["pmcid"]: p["licence"] for p in pairs} == {"PMC9000001": "cc-by", "PMC9000002": "cc-by-nc-nd", "PMC9000004": "cc0"}
    assert not list(tmp_path.rglob("*.partial"))


def test_resume_asks_only_for_new_articles(tmp_path):
    build(tmp_path / "once")
    build(tmp_path / "twice", max_articles=2)
    again = RecordedFetch(FIXTURES)
    summary = build(tmp_path / "twice", fetch=again)
    assert summary["asked_this_run"] == 3
    assert not [u for u in again.asked if "PMC9000001" in u or "PMC9000002" in u]
    assert read(tmp_path / "twice") == read(tmp_path / "once")
    third = RecordedFetch(FIXTURES)
    assert build(tmp_path / "twice", fetch=third)["asked_this_run"] == 0 and third.asked == []   # all done: nothing asked


class Interrupted(RecordedFetch):
    "Ctrl-C when a URL containing `at` is asked."
    def __init__(self, at): super().__init__(FIXTURES); self.at = at
    def __call__(self, url):
        if self.at in url: raise KeyboardInterrupt
        return super().__call__(url)


def test_an_interrupted_run_leaves_whole_files_and_resumes(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        build(tmp_path, fetch=Interrupted("PMC9000004.1/hippo-f1.png"))
    pairs, state = read(tmp_path), read(tmp_path, STATE_FILE)          # both parse: written atomically
    assert set(state["done"]) == {"PMC9000001", "PMC9000002"} and {p["pmcid"] for p in pairs} == set(state["done"])
    assert not list(tmp_path.rglob("*.partial"))
    build(tmp_path)
    build(tmp_path / "once")
    assert read(tmp_path) == read(tmp_path / "once")


class Failing(RecordedFetch):
    "HTTP `status` for URLs containing `at`."
    def __init__(self, at, status): super().__init__(FIXTURES); self.at, self.status = at, status
    def __call__(self, url):
        if self.at in url: raise FetchError(f"HTTP {self.status} Service Unavailable after 5 tries", url, self.status)
        return super().__call__(url)


def test_a_transient_failure_is_counted_and_tried_again(tmp_path):
    summary = build(tmp_path, fetch=Failing("PMC9000002.1/PMC9000002.1.xml", 503))
    assert summary["failed"]["HTTP 503 Service Unavailable after 5 tries"] == 1
    state = read(tmp_path, STATE_FILE)
    assert "PMC9000002" not in state["done"] and "PMC9000002" not in state["left_out"]
    again = RecordedFetch(FIXTURES)
    assert build(tmp_path, fetch=again)["new_pairs"] == 1 and read(tmp_path, STATE_FILE)["done"]["PMC9000002"] == 1
    with pytest.raises(FetchError, match=r"record PMC9000001: https://pmc-oa-opendata\.s3\.amazonaws\.com/PMC9000001\.2/PMC9000001\.2\.xml: HTTP 503"):
        build(tmp_path / "strict", fetch=Failing("PMC9000001.2/PMC9000001.2.xml", 503), on_error="raise")


def test_bioc_source(tmp_path):
    summary = build(tmp_path, source="bioc", max_articles=2)
    assert [(p["pmcid"], p["figure_id"]) for p in read(tmp_path)] == [("PMC9000001", "F1a"), ("PMC9000001", "F2")]
    assert summary["failed"] == {"HTTP 404 Not Found (no recorded answer)": 1}                     # PMC9000002 has no BioC answer
    assert read(tmp_path, STATE_FILE)["left_out"]["PMC9000002"].startswith("HTTP 404")           # not asked again


def test_api_key_only_from_the_environment_and_never_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NCBI_API_KEY", "k3y-SECRET")
    assert "api_key=k3y-SECRET" in eutils_url("esearch", db="pmc") and host_rates()["ncbi.nlm.nih.gov"] == 10.0
    build(tmp_path, fetch=RecordedFetch(FIXTURES))                    # it answers by the URL without its key
    assert not [f for f in tmp_path.rglob("*") if f.is_file() and b"k3y-SECRET" in f.read_bytes()]
    with pytest.raises(FetchError) as e: HTTPFetch(retries=0)(eutils_url("esearch", db="pmc"))
    assert "k3y-SECRET" not in str(e.value) and "esearch.fcgi" in str(e.value)


def test_other_settings_or_foreign_files_are_refused(tmp_path):
    build(tmp_path / "a")
    with pytest.raises(ConfigError, match="holds a corpus built with {'licence': 'noncommercial'}"):
        build(tmp_path / "a", licence="commercial")
    (tmp_path / "b").mkdir(); (tmp_path / "b" / CAPTIONS_FILE).write_text("[]")
    with pytest.raises(ConfigError, match="not written by the PMC builder"):
        build(tmp_path / "b")
    (tmp_path / "a" / STATE_FILE).write_text("[]")
    with pytest.raises(DataError, match=f"a/{STATE_FILE}: not a state written by the PMC builder"):
        build(tmp_path / "a")
    with pytest.raises(ConfigError, match="max_articles must be at least 1"):
        build(tmp_path / "c", max_articles=0)


def test_the_command_line_has_no_api_key_option():
    parser = argparse.ArgumentParser(prog="brainvlm"); sub = parser.add_subparsers(); add_pmc_command(sub)
    assert "--api-key" not in sub.choices["pmc"].format_help()              # a key comes only from NCBI_API_KEY
