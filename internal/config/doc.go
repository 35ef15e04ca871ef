// Package config reads the YAML configuration of docs/CONTRACT.md §6, shared by
// syncworker (which runs it) and syncctl (which reads its connections to
// validate commands and plan migrations): ${VAR} references are expanded
// from the environment, unknown keys are refused, and every problem is
// reported at once. Credential values never appear in its errors.
package config
