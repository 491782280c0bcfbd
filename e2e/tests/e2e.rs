//! The end-to-end suite: one stack (PostgreSQL, the Django stand-in, both
//! Workers in local workerd) for the whole run, torn down whatever happens.
//! Tests run one at a time because several of them change the rollout config.

/// A module's `TESTS`: each test named `module::function` from its function,
/// written once.
#[macro_export]
macro_rules! tests {
    ($module:ident: $($name:ident),+ $(,)?) => {
        pub const TESTS: &[(&str, $crate::TestFn)] = &[$((
            concat!(stringify!($module), "::", stringify!($name)),
            $name,
        )),+];
    };
}

mod accounts;
mod admin;
mod beta;
mod blue_green;
mod cloudflare;
mod common;
mod cutover;
mod cutter;
mod dashboard;
mod dead_letters;
mod files;
mod files_api;
mod filters;
mod foundation;
mod frontend;
mod limits;
mod proxy;
mod rehearsal;
mod replication;
mod runbook;
mod security;
mod session;
mod shadow;
mod split;
mod validate;

use e2e::Stack;
use libtest_mimic::{Arguments, Trial};

type TestFn = fn(&Stack);

fn main() {
    let mut args = Arguments::from_args();
    args.test_threads = Some(1);

    let mut tests: Vec<(&str, TestFn)> = Vec::new();
    tests.extend(foundation::TESTS);
    tests.extend(split::TESTS);
    tests.extend(proxy::TESTS);
    tests.extend(accounts::TESTS);
    tests.extend(admin::TESTS);
    tests.extend(dashboard::TESTS);
    tests.extend(beta::TESTS);
    tests.extend(cutter::TESTS);
    tests.extend(files::TESTS);
    tests.extend(files_api::TESTS);
    tests.extend(filters::TESTS);
    tests.extend(frontend::TESTS);
    tests.extend(cutover::TESTS);
    tests.extend(security::TESTS);
    tests.extend(replication::TESTS);
    tests.extend(rehearsal::TESTS);
    tests.extend(runbook::TESTS);
    tests.extend(shadow::TESTS);
    tests.extend(limits::TESTS);
    tests.extend(dead_letters::TESTS);
    tests.extend(validate::TESTS);
    tests.extend(cloudflare::TESTS);
    tests.extend(blue_green::TESTS);

    let stack: &'static Stack = Box::leak(Box::new(Stack::start()));
    let trials = tests
        .into_iter()
        .map(|(name, test)| {
            Trial::test(name, move || {
                test(stack);
                Ok(())
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    stack.shutdown();
    conclusion.exit();
}
