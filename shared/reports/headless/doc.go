// Package headless loads a page in a headless Chromium and reports what a
// reader would have seen go wrong: console errors, uncaught exceptions,
// failed loads and images that did not load, with a screenshot. It speaks
// the Chrome DevTools Protocol (https://chromedevtools.github.io/devtools-protocol/)
// over the browser's --remote-debugging-pipe (NUL-terminated JSON messages
// on file descriptors 3 and 4), so it needs no websocket library.
//
// Tests use it to check the HTML reports in a real browser.
//
// It imports nothing of this module but shared/fault.
package headless
