// Package fieldplan builds adapters.FieldPlan values the one way every
// adapter's Plan does: values as compact JSON with HTML characters left as
// they are (a URL's "&" stays readable), states from the adapter's own
// comparison, and secrets without any value.
//
// Invariant: a FieldPlan built with Secret never holds a value, whatever the
// caller knows; the adapter decides only whether the field is a secret.
package fieldplan
