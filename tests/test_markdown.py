from curation.markdown import render_markdown


def test_it_renders_the_usual_guideline_constructs():
    html = render_markdown(
        "# Title\n\nSome **bold** and *italic* and `code`.\n\n- one\n- two\n\n1. first\n2. second\n\n"
        "See [the docs](https://example.com/a?b=1)."
    )
    assert "<h3>Title</h3>" in html
    assert "<strong>bold</strong>" in html and "<em>italic</em>" in html and "<code>code</code>" in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert "<ol>\n<li>first</li>\n<li>second</li>\n</ol>" in html
    assert '<a href="https://example.com/a?b=1" rel="noopener noreferrer" target="_blank">the docs</a>' in html


def test_raw_html_and_script_links_stay_inert_text():
    html = render_markdown(
        '<script>alert(1)</script>\n\n<img src=x onerror="alert(2)">\n\n'
        '[click](javascript:alert(3))\n\n[x](https://a.b/"onmouseover="alert(4))\n\n'
        "```\n<b>code</b>\n```"
    )
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript' not in html
    assert '"onmouseover' not in html and "&quot;onmouseover=&quot;" in html
    assert "<pre><code>&lt;b&gt;code&lt;/b&gt;</code></pre>" in html


def test_code_spans_are_not_formatted_inside():
    assert "<code>**not bold**</code>" in render_markdown("`**not bold**`")
