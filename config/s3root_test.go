package config

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestS3Roots(t *testing.T) {
	stream := func(dvr, cache string) string {
		s := okNode + "\n  [[node.stream]]\n  name = \"s\"\n  inputs = [\"udp://:1234\"]\n  dvr = { root = \"" + dvr + "\" }\n"
		if cache != "" {
			s += "  cache = { root = \"" + cache + "\" }\n"
		}
		return s
	}
	for _, tc := range []struct {
		name, dvr, cache string
		want             []string
	}{
		{"bucket and prefix", "s3://edge-archive/site1", "", nil},
		{"bucket only", "s3://edge-archive", "", nil},
		{"endpoint and region", "s3://edge.archive/a/b?endpoint=http://127.0.0.1:7070&region=eu-west-1", "", nil},
		{"other scheme", "gs://bucket/x", "", []string{`t.toml:9: node "a" stream "s": dvr: root "gs://bucket/x": scheme "gs" is not supported; use a directory or s3://BUCKET/PREFIX`}},
		{"credentials", "s3://key:secret@bucket/x", "", []string{`t.toml:9: node "a" stream "s": dvr: root "s3://key:secret@bucket/x": credentials in the URL are not accepted; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`}},
		{"bad bucket", "s3://Bucket_1/x", "", []string{`t.toml:9: node "a" stream "s": dvr: root "s3://Bucket_1/x": bucket "Bucket_1" must be 3 to 63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit`}},
		{"no bucket", "s3:///x", "", []string{`t.toml:9: node "a" stream "s": dvr: root "s3:///x": bucket "" must be 3 to 63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit`}},
		{"dot dot", "s3://bucket/a/../b", "", []string{`t.toml:9: node "a" stream "s": dvr: root "s3://bucket/a/../b": prefix element ".."`}},
		{"unknown parameter", "s3://bucket/x?secret=1", "", []string{`t.toml:9: node "a" stream "s": dvr: root "s3://bucket/x?secret=1": unknown parameter "secret" (known: endpoint, region)`}},
		{"bad endpoint", "s3://bucket/x?endpoint=ftp://h", "", []string{`t.toml:9: node "a" stream "s": dvr: root "s3://bucket/x?endpoint=ftp://h": endpoint must be one http:// or https:// URL`}},
		{"s3 cache", "/d", "s3://bucket/c", []string{`t.toml:10: node "a" stream "s": cache: root "s3://bucket/c" must be a local directory (the segment cache is served with sendfile)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top, err := Parse("t.toml", []byte(stream(tc.dvr, tc.cache)))
			got := errorLines(err)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if err == nil && top.Nodes[0].Streams[0].DVR.Root != tc.dvr {
				t.Fatalf("root became %q; an s3:// root must be kept as written", top.Nodes[0].Streams[0].DVR.Root)
			}
		})
	}
}

func FuzzCheckS3Root(f *testing.F) {
	for _, s := range []string{"s3://edge-archive/site1", "s3://b.b-b/a/b?endpoint=http://127.0.0.1:7070&region=x",
		"s3://u:p@bucket/x", "s3://bucket/../x", "s3://bucket/x?endpoint=ftp://x", "s3://BUCKET", "gs://x/y", "s3://"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, root string) {
		if checkS3Root(root) != nil {
			return
		}
		u, err := url.Parse(root)
		if err != nil || u.Scheme != "s3" || u.User != nil || len(u.Host) < 3 {
			t.Fatalf("accepted %q", root)
		}
	})
}
