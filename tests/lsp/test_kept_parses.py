"""Letting the parses of open documents go changes no answer.

The server keeps the parses of the open documents last used only (`Workspace.kept_parses`); the
others are parsed again from the editor's text when a check or a site-wide answer needs them.
Two workspaces take the same random opens, edits, saves and closes of a real site's files, one
keeping a single parse, the other every one: after each step their findings for every open
review, the parses their sites read, and their indexes must be the same.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsp_support import BASE_SITE

from letterhead.check import unpack_text
from letterhead.indexer import index_site
from letterhead.lsp.workspace import OpenDocument, Workspace

# The base site's reviews, and a page: without front matter, on disk or in the editor's text, a
# page is a static file (Jekyll copies it as it is), and no longer a document of the index.
FILES = [f"_posts/{path.name}" for path in sorted((BASE_SITE / "_posts").glob("*.md"))]
PAGE = "about.md"
FILES.append(PAGE)
PAGE_TEXT = '---\ntitle: "About"\nlayout: review\n---\nWho writes these letters.\n'


def _variant(text: str, number: int) -> str:
    """The review's text as an editor might hold it: as on disk, its tags changed, a dead
    link added, its tags moved a line down, its front matter gone."""
    if number == 1:
        return text.replace("tags: [", "tags: [Letters, new tag, ", 1)
    if number == 2:
        return text + "\nSee [the lost one](/content/lost/).\n"
    if number == 3:
        return text.replace("\ntags:", "\nsubtitle: moved\ntags:", 1)
    if number == 4:
        return text.split("\n---\n", 1)[-1]
    return text


steps = st.lists(
    st.tuples(
        st.sampled_from(["open", "change", "save", "close"]),
        st.integers(0, len(FILES) - 1),
        st.integers(0, 4),
    ),
    min_size=1,
    max_size=30,
)


class Editor:
    """One workspace and the documents its editor has open, by site-relative path."""

    def __init__(self, site: Path, kept_parses: int) -> None:
        self.site = site
        self.workspace = Workspace(kept_parses=kept_parses)
        self.open: dict[str, OpenDocument] = {}
        self.versions = 0

    def step(self, action: str, name: str, variant: int) -> None:
        path = self.site / name
        document = self.open.get(name)
        self.versions += 1
        if action == "open" and document is None:
            text = _variant(path.read_text(encoding="utf-8"), variant)
            document, _ = self.workspace.open(path.as_uri(), text, self.versions, path)
            self.open[name] = document
            state = document.site
            assert state is not None
            if not state.ready:  # the first open: the site is indexed as the server would
                self.workspace.install(state, index_site(self.site), 0.0)
        elif action == "change" and document is not None:
            text = _variant(document.text, variant)
            self.workspace.set_text(document, text, self.versions)
        elif action == "close" and document is not None:
            self.workspace.close(path.as_uri())
            del self.open[name]

    def answers(self) -> object:
        """Everything the two workspaces must agree on."""
        state = next(iter(self.workspace.sites.values()))
        findings = {name: self.workspace.findings(document) for name, document in self.open.items()}
        loaded = state.loaded
        read = {
            name: (
                getattr(loaded.document(name), "text", None),
                getattr(loaded.document(name, head_only=True), "text", None),
            )
            for name in FILES
        }
        index = {
            path: (record.entry.title, record.tags, record.link_keys, sorted(record.anchors))
            for path, record in loaded.index.documents.items()
        }
        return findings, read, index, sorted(loaded.index.statics)


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kept-parses")


@settings(max_examples=200, deadline=None)
@given(steps=steps)
def test_letting_parses_go_changes_no_answer(
    sites: Path, steps: list[tuple[str, int, int]]
) -> None:
    site = sites / f"site-{len(list(sites.iterdir()))}"
    shutil.copytree(BASE_SITE, site)
    (site / PAGE).write_text(PAGE_TEXT, encoding="utf-8")
    bounded, unbounded = Editor(site, kept_parses=1), Editor(site, kept_parses=10**9)
    for action, number, variant in steps:
        name = FILES[number]
        if action == "save":  # both editors save the same text: the one the bounded one holds
            document = bounded.open.get(name)
            if document is not None:
                (site / name).write_text(document.text, encoding="utf-8")
            continue
        bounded.step(action, name, variant)
        unbounded.step(action, name, variant)
        if bounded.open:
            assert bounded.answers() == unbounded.answers(), (action, name, variant)
            # The site holds the editor's text of each open file it reads as a document, and
            # nothing else.
            loaded = next(iter(bounded.workspace.sites.values())).loaded
            held = {name for name, d in bounded.open.items() if d.indexed}
            assert set(loaded.texts) == held
            assert {name: unpack_text(text) for name, text in loaded.texts.items()} == {
                name: bounded.open[name].text for name in held
            }
            # Beyond the parse kept, the texts are packed, the editor's and the site's alike.
            for name, document in bounded.open.items():
                if document.document is None and not document.stale:
                    assert isinstance(document.stored, bytes), name
                    assert name not in held or isinstance(loaded.texts[name], bytes), name
    kept = [d for d in bounded.workspace.documents.values() if d.document is not None]
    assert len(kept) <= 1
    for state in bounded.workspace.sites.values():
        assert len(state.loaded.documents) <= 1  # the sites hold no more of them
    for editor in (bounded, unbounded):  # once all are closed, nothing of theirs is held
        for name in list(editor.open):
            editor.step("close", name, 0)
        for state in editor.workspace.sites.values():
            assert state.loaded.texts == {} and state.loaded.documents == {}


def test_texts_not_used_since_they_came_wait_packed(sites: Path) -> None:
    """An editor applying a rename sends the opens and edits of thousands of reviews before
    the server checks any: beyond `kept_parses`, the texts that came and were not used since
    wait packed, and give the same answers once used."""
    site = sites / "burst"
    shutil.copytree(BASE_SITE, site)
    (site / PAGE).write_text(PAGE_TEXT, encoding="utf-8")
    bounded, unbounded = Editor(site, kept_parses=2), Editor(site, kept_parses=10**9)
    for editor in (bounded, unbounded):
        for name in FILES:
            editor.step("open", name, 0)
        for name in FILES:
            editor.step("change", name, 1)
    waiting = [name for name, document in bounded.open.items() if isinstance(document.stored, str)]
    # The two last to come, and the first, which was checked when its site was indexed and is
    # among the parses kept (its text stays as it is while it is).
    assert waiting == [FILES[0], *FILES[-2:]]
    assert all(isinstance(document.stored, str) for document in unbounded.open.values())
    packed = bounded.open[FILES[1]].stored
    bounded.workspace.findings(bounded.open[FILES[2]])  # used, then edited while its parse is kept
    for editor in (bounded, unbounded):
        editor.step("change", FILES[2], 2)
    assert bounded.answers() == unbounded.answers()
    assert {name: document.text for name, document in bounded.open.items()} == {
        name: document.text for name, document in unbounded.open.items()
    }
    # Checked, then its parse let go: its text is packed again, as the very bytes it waited in.
    assert bounded.open[FILES[1]].document is None
    assert bounded.open[FILES[1]].stored is packed
