// Package manifests feeds the translator from a directory of YAML files instead of a
// cluster: the --manifests mode that `make demo` runs. The same decoding and the same
// translate.Build are used, so what works here works in a cluster.
package manifests

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/sticky-ingress/sticky-ingress/controllers/translate"
)

// manifestFiles lists the YAML and JSON files under dir, sorted, skipping hidden ones.
func manifestFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if strings.HasPrefix(name, ".") && path != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && slices.Contains([]string{".yaml", ".yml", ".json"}, filepath.Ext(name)) {
			files = append(files, path)
		}
		return nil
	})
	slices.Sort(files)
	return files, err
}

// Load reads every manifest under dir, in file-name order (a later object of the same
// kind and name wins, as applying the files in order would). Kinds the translator
// does not read are skipped, so a directory may hold whole application manifests.
func Load(dir string) (translate.Inputs, error) {
	files, err := manifestFiles(dir)
	if err != nil {
		return translate.Inputs{}, fmt.Errorf("--manifests %s: %w", dir, err)
	}
	var objs []runtime.Object
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return translate.Inputs{}, err
		}
		decoded, err := translate.DecodeObjects(data)
		if err != nil {
			return translate.Inputs{}, fmt.Errorf("%s: %w", f, err)
		}
		objs = append(objs, decoded...)
	}
	return translate.InputsFromObjects(objs), nil
}
