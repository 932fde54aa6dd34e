// Package report writes the reports of degradiff's benchmarks: a titled
// document of sections (paragraphs, a table, an image, a code block) as
// GitHub-flavoured Markdown and as one self-contained HTML page.
package report

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strings"
)

// A Document is the report's content, written as Markdown and as HTML.
type Document struct {
	Title    string
	Sections []Section
}

// A Section holds, in order, paragraphs, a table, an image file of the
// output folder and a code block; any may be empty.
type Section struct {
	Title string
	Paras []string
	Head  []string
	Rows  [][]string
	Image string
	Code  string
}

// Markdown renders the document as GitHub-flavoured Markdown; images are
// linked by file name, beside the report.
func (d Document) Markdown() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n", d.Title)
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for _, s := range d.Sections {
		fmt.Fprintf(&b, "\n## %s\n", s.Title)
		for _, p := range s.Paras {
			fmt.Fprintf(&b, "\n%s\n", p)
		}
		if len(s.Head) > 0 {
			b.WriteString("\n|")
			for _, h := range s.Head {
				fmt.Fprintf(&b, " %s |", cell(h))
			}
			b.WriteString("\n|")
			for range s.Head {
				b.WriteString(" --- |")
			}
			b.WriteString("\n")
			for _, row := range s.Rows {
				b.WriteString("|")
				for _, v := range row {
					fmt.Fprintf(&b, " %s |", cell(v))
				}
				b.WriteString("\n")
			}
		}
		if s.Image != "" {
			fmt.Fprintf(&b, "\n![%s](%s)\n", s.Title, s.Image)
		}
		if s.Code != "" {
			fmt.Fprintf(&b, "\n```sh\n%s\n```\n", s.Code)
		}
	}
	return b.Bytes()
}

// HTML renders the document as one self-contained page: the images of the
// folder dir are embedded as data URLs.
func (d Document) HTML(dir string) ([]byte, error) {
	var b bytes.Buffer
	esc := html.EscapeString
	fmt.Fprintf(&b, `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%s</title>
<style>
body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;line-height:1.4}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f0f0f0}td{font-variant-numeric:tabular-nums}img{max-width:100%%;image-rendering:pixelated}
pre{background:#f6f6f6;padding:1em;overflow-x:auto}
</style></head><body>
<h1>%s</h1>
`, esc(d.Title), esc(d.Title))
	for _, s := range d.Sections {
		fmt.Fprintf(&b, "<h2>%s</h2>\n", esc(s.Title))
		for _, p := range s.Paras {
			fmt.Fprintf(&b, "<p>%s</p>\n", esc(p))
		}
		if len(s.Head) > 0 {
			b.WriteString("<table>\n<tr>")
			for _, h := range s.Head {
				fmt.Fprintf(&b, "<th>%s</th>", esc(h))
			}
			b.WriteString("</tr>\n")
			for _, row := range s.Rows {
				b.WriteString("<tr>")
				for _, v := range row {
					fmt.Fprintf(&b, "<td>%s</td>", esc(v))
				}
				b.WriteString("</tr>\n")
			}
			b.WriteString("</table>\n")
		}
		if s.Image != "" {
			png, err := os.ReadFile(filepath.Join(dir, s.Image))
			if err != nil {
				return nil, fmt.Errorf("report: %w", err)
			}
			fmt.Fprintf(&b, "<p><img alt=\"%s\" src=\"data:image/png;base64,%s\"></p>\n", esc(s.Title), base64.StdEncoding.EncodeToString(png))
		}
		if s.Code != "" {
			fmt.Fprintf(&b, "<pre>%s</pre>\n", esc(s.Code))
		}
	}
	b.WriteString("</body></html>\n")
	return b.Bytes(), nil
}

// ShellQuote quotes s for a POSIX shell when it needs it, for the command
// lines a report shows.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=,:+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
