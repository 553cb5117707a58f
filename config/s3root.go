package config

import (
	"fmt"
	"net/url"
	"strings"
)

// isURLRoot reports whether a dvr or cache root is a URL rather than a directory.
func isURLRoot(root string) bool { return strings.Contains(root, "://") }

// checkS3Root checks an s3://BUCKET/PREFIX[?endpoint=URL&region=NAME] dvr
// root as the S3 store reads it (plugins/s3store.ParseRoot holds the same
// rules): a valid bucket name, no credentials, only the endpoint and region
// parameters.
func checkS3Root(root string) error {
	if !strings.HasPrefix(root, "s3://") {
		scheme, _, _ := strings.Cut(root, "://")
		return fmt.Errorf("root %q: scheme %q is not supported; use a directory or s3://BUCKET/PREFIX", root, scheme)
	}
	u, err := url.Parse(root)
	if err != nil {
		return fmt.Errorf("root %q: %v", root, err)
	}
	if u.User != nil {
		return fmt.Errorf("root %q: credentials in the URL are not accepted; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", root)
	}
	if u.Fragment != "" || strings.Contains(u.Path, "//") {
		return fmt.Errorf("root %q: malformed prefix", root)
	}
	b := u.Host
	if len(b) < 3 || len(b) > 63 || strings.Trim(b, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" ||
		strings.ContainsAny(b[:1]+b[len(b)-1:], ".-") {
		return fmt.Errorf("root %q: bucket %q must be 3 to 63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit", root, b)
	}
	for _, el := range strings.Split(strings.Trim(u.Path, "/"), "/") {
		if el == "." || el == ".." {
			return fmt.Errorf("root %q: prefix element %q", root, el)
		}
	}
	for k, v := range u.Query() {
		switch k {
		case "endpoint":
			e, err := url.Parse(v[0])
			if len(v) != 1 || err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
				return fmt.Errorf("root %q: endpoint must be one http:// or https:// URL", root)
			}
		case "region":
			if len(v) != 1 || v[0] == "" {
				return fmt.Errorf("root %q: region must be one non-empty value", root)
			}
		default:
			return fmt.Errorf("root %q: unknown parameter %q (known: endpoint, region)", root, k)
		}
	}
	return nil
}
