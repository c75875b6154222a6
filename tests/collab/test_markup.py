"""Markdown-lite: escaped text, paragraphs, lists, safe links and resolved mentions only."""

import pytest

from collab import markup


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("plain", "<p>plain</p>"),
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        ("a & b\nnext line\n\nnew paragraph", "<p>a &amp; b<br>next line</p><p>new paragraph</p>"),
        (
            "Steps:\n- one\n- two\n\n1. first\n2) second",
            "<p>Steps:</p><ul><li>one</li><li>two</li></ul><ol><li>first</li><li>second</li></ol>",
        ),
        (
            "see [the report](https://example.com/r?a=1&b=2)",
            '<p>see <a href="https://example.com/r?a=1&amp;b=2" rel="nofollow noopener noreferrer">'
            "the report</a></p>",
        ),
        (
            "at https://example.com/x.",
            '<p>at <a href="https://example.com/x" rel="nofollow noopener noreferrer">'
            "https://example.com/x</a>.</p>",
        ),
        ("[click](javascript:alert(1))", "<p>[click](javascript:alert(1))</p>"),
        (
            '[x](https://e.com/"onmouseover=")',
            '<p>[x](<a href="https://e.com/" rel="nofollow noopener '
            'noreferrer">https://e.com/</a>&quot;onmouseover=&quot;)</p>',
        ),
    ],
)
def test_render_escapes_everything_but_its_own_markup(text, html):
    assert markup.render(text) == html


def test_only_resolved_mentions_are_marked():
    html = markup.render("thanks @ana and @bob, mail x@example.com", mentions={"ana"})
    assert html == '<p>thanks <span class="mention">@ana</span> and @bob, mail x@example.com</p>'


def test_mentioned_usernames_in_order_each_once_without_trailing_punctuation():
    text = "@ana: see this, @bob.smith. Again @ana! Not me@example.com, [link @carl](https://x.org)"
    assert markup.mentioned_usernames(text) == ["ana", "bob.smith"]
