//! The documentation's examples, run: every `console` block of README.md and docs/*.md and every
//! example in openapi.yaml is produced by a fresh service (the real binary with its default
//! settings) on the suite's server and compared with what the page shows, `…` masking only what
//! must vary (ids, times, elapsed times, rates). A field added, removed or changed, another value
//! for a pinned seed or another status fails here. Blocks marked ```` ```console not-run ```` need
//! Docker or an injected fault; the page names the step that runs them.

mod console;
mod matching;
mod openapi;

/// The pages whose console blocks are run, each by a test below.
pub const TESTED_PAGES: &[&str] = &[
    "README.md",
    "docs/api.md",
    "docs/live.md",
    "docs/statistics.md",
];

#[tokio::test(flavor = "multi_thread")]
async fn readme_examples_print_what_the_page_shows() {
    console::check_page("README.md").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn api_page_examples_print_what_the_page_shows() {
    console::check_page("docs/api.md").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn live_page_examples_print_what_the_page_shows() {
    console::check_page("docs/live.md").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn statistics_page_examples_print_what_the_page_shows() {
    console::check_page("docs/statistics.md").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_examples_are_what_the_service_answers() {
    openapi::check_all().await;
}
