//! Host bindings generated from the contract in `wit/`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "transform",
    ownership: Borrowing { duplicate_if_necessary: true },
});
