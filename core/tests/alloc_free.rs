//! The memory:// hot path allocates nothing once a key exists.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCS.with(|a| a.set(a.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCS.with(|a| a.set(a.get() + 1));
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn memory_decisions_do_not_allocate_once_keys_exist() {
    let limiter = ratewarden::blocking::Limiter::connect("memory://alloc-free").unwrap();
    let clients: Vec<String> = (0..100).map(|i| format!("client-{i}")).collect();
    let quota = ratewarden::Quota::new(10, 10);
    // Warm up: create the keys and fill their logs to capacity.
    for _ in 0..50 {
        for c in &clients {
            limiter.check(c, "/alloc", quota, 1).unwrap();
        }
    }
    COUNTING.with(|c| c.set(true));
    let mut allowed = 0;
    for _ in 0..100 {
        for c in &clients {
            allowed += u64::from(limiter.check(c, "/alloc", quota, 1).unwrap().allowed);
        }
    }
    COUNTING.with(|c| c.set(false));
    let allocs = ALLOCS.with(|a| a.get());
    assert_eq!(allocs, 0, "{allocs} allocations in 10,000 decisions");
    assert!(allowed < 10_000, "the limit must have been hit");
}
