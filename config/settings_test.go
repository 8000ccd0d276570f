package config

import (
	"reflect"
	"testing"
	"time"
)

// TestSettingsCoverConfig checks that the table of settings declares every
// field of Config exactly once, so that a new field cannot be left without a
// variable, a YAML key, a default and a line in the logs.
func TestSettingsCoverConfig(t *testing.T) {
	declared := map[string]string{} // field -> the key that sets it
	for _, s := range settings {
		raw := "1"
		switch s.def.(type) {
		case bool:
			raw = "true"
		case time.Duration:
			raw = "1s"
		}
		c := &Config{}
		if err := s.set(c, raw); err != nil {
			t.Fatalf("%s: set(%q): %v", s.key, raw, err)
		}
		changed := nonZeroFields(reflect.ValueOf(*c), "")
		if len(changed) != 1 {
			t.Errorf("%s sets fields %q, want exactly one", s.key, changed)
			continue
		}
		if prev, ok := declared[changed[0]]; ok {
			t.Errorf("field %s is set by both %s and %s", changed[0], prev, s.key)
		}
		declared[changed[0]] = s.key
	}
	for _, f := range allFields(reflect.TypeFor[Config](), "") {
		if _, ok := declared[f]; !ok {
			t.Errorf("field %s has no setting", f)
		}
	}
}

// nonZeroFields names the fields of v (a struct, nested structs flattened)
// that are not zero.
func nonZeroFields(v reflect.Value, prefix string) []string {
	var names []string
	for i := range v.NumField() {
		f, name := v.Field(i), prefix+v.Type().Field(i).Name
		if f.Kind() == reflect.Struct {
			names = append(names, nonZeroFields(f, name+".")...)
		} else if !f.IsZero() {
			names = append(names, name)
		}
	}
	return names
}

// allFields names every field of struct type t, nested structs flattened.
func allFields(t reflect.Type, prefix string) []string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type.Kind() == reflect.Struct {
			names = append(names, allFields(f.Type, prefix+f.Name+".")...)
		} else {
			names = append(names, prefix+f.Name)
		}
	}
	return names
}

// TestSettingsNames checks that no two settings share a variable (or a
// flag, which is named alike).
func TestSettingsNames(t *testing.T) {
	envs := map[string]bool{}
	for _, s := range settings {
		if envs[s.env()] {
			t.Errorf("two settings are %s", s.env())
		}
		envs[s.env()] = true
	}
}
