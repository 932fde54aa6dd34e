package report

import (
	"strings"
	"testing"
)

func TestMarkdownAndHTML(t *testing.T) {
	d := Document{Title: "T", Sections: []Section{{Title: "S", Paras: []string{"a <b>"}, Head: []string{"x|y"}, Rows: [][]string{{"1"}}, Code: "ls"}}}
	md := string(d.Markdown())
	for _, want := range []string{"# T\n", "## S\n", "a <b>", `| x\|y |`, "| --- |", "| 1 |", "```sh\nls\n```"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	page, err := d.HTML(t.TempDir())
	if err != nil || !strings.Contains(string(page), "<p>a &lt;b&gt;</p>") || !strings.Contains(string(page), "<th>x|y</th>") {
		t.Errorf("HTML: %v\n%s", err, page)
	}
	d.Sections[0].Image = "missing.png"
	if _, err := d.HTML(t.TempDir()); err == nil || !strings.Contains(err.Error(), "missing.png") {
		t.Errorf("missing image: %v, want an error naming it", err)
	}
}

func TestShellQuote(t *testing.T) {
	if got := ShellQuote("a b'c") + " " + ShellQuote("/x/y_1,z") + " " + ShellQuote(""); got != `'a b'\''c' /x/y_1,z ''` {
		t.Errorf("ShellQuote: %s", got)
	}
}
