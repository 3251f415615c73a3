// Package figure lays out gonum.org/v1/plot figures for the reports so they
// can be read: the Okabe–Ito colour-blind-safe palette, a legend placed in
// the corner of the data area that covers no data (or outside it when every
// corner is taken), and an inspection of a drawn figure — every text's
// bounding box and the legend's box — that tests use to check that no text
// is clipped or runs into another and that no legend covers the data.
//
// It depends on gonum.org/v1/plot only. It must not import shared/store/...,
// shared/api, shared/embedded or the AWS SDK.
package figure
