//! `component-prewarm <component.wasm> <out.wasm>`: runs the component's `prewarm` export
//! once and writes a snapshot of the state it left (Wizer) to `out.wasm`, so lazily
//! initialized data is ready in every fresh instance instead of being rebuilt on each request.
//!
//! The snapshot goes to its own file, marked with a hash of the component it was made from:
//! cargo puts its own output back in place on every `cargo build`, even one that compiles
//! nothing, so a snapshot written over it would be redone (seconds per component) by every
//! build; a marked output is redone only when the component changed.
//!
//! Spin makes a new instance for every request; whatever a component builds lazily (parsed
//! metadata, compiled regexes) it otherwise builds again every time. Run from each
//! component's build command in spin.toml, so `spin build` does it too.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{
    Component, Instance, Lift, Linker, ResourceTable, ResourceType, WasmList,
};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
    WasiHttpView,
};
use wasmtime_wizer::{ComponentInstanceState, Wizer};

const INIT_EXPORT: &str = "prewarm";
/// A custom section of each snapshot, holding [`fingerprint`] of the component it was made
/// from, so a build that left the component unchanged does not redo the snapshot.
const MARKER: &str = "component-prewarm";

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: component-prewarm <component.wasm> <out.wasm>");
        std::process::exit(2);
    };
    if let Err(e) = prewarm_file(input, output) {
        eprintln!("component-prewarm: {}: {e:#}", input.display());
        std::process::exit(1);
    }
}

fn prewarm_file(input: &Path, output: &Path) -> Result<()> {
    let wasm = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let source = fingerprint(&wasm);
    if std::fs::read(output).is_ok_and(|done| made_from(&done) == Some(source)) {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    // A component without the export is served as it is.
    let snapshot = runtime
        .block_on(snapshot(&wasm))?
        .unwrap_or_else(|| wasm.clone());
    if let Some(dir) = output.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Write beside, then rename: a crash never leaves a half-written component.
    let tmp = output.with_extension("wasm.prewarm");
    std::fs::write(&tmp, with_marker(snapshot.clone(), source))?;
    std::fs::rename(&tmp, output)?;
    eprintln!(
        "component-prewarm: {} pre-initialized into {} ({} -> {} bytes)",
        input.display(),
        output.display(),
        wasm.len(),
        snapshot.len()
    );
    Ok(())
}

/// FNV-1a over the component's bytes: tells a rebuilt component from the one a snapshot was
/// made from (change detection, not security).
fn fingerprint(wasm: &[u8]) -> u64 {
    wasm.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: NoOutbound,
}

/// Build time sends no requests.
struct NoOutbound;

type IoFuture = Box<dyn std::future::Future<Output = Result<(), HttpError>> + Send>;

impl WasiHttpHooks for NoOutbound {
    fn send_request(
        &mut self,
        _request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> Box<
        dyn std::future::Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>>
            + Send,
    > {
        Box::new(async { Err(HttpError::HttpRequestDenied) })
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The fingerprint a snapshot's marker holds, if `wasm` is a snapshot.
fn made_from(wasm: &[u8]) -> Option<u64> {
    wasmparser::Parser::new(0)
        .parse_all(wasm)
        .map_while(|payload| payload.ok())
        .find_map(|payload| match payload {
            wasmparser::Payload::CustomSection(section) if section.name() == MARKER => {
                Some(u64::from_le_bytes(section.data().try_into().ok()?))
            }
            _ => None,
        })
}

/// Appends the marker as a top-level custom section (id 0, size, name, then the source's
/// fingerprint).
fn with_marker(mut wasm: Vec<u8>, source: u64) -> Vec<u8> {
    let name = MARKER.as_bytes();
    let payload = source.to_le_bytes();
    wasm.push(0);
    leb128(
        &mut wasm,
        (leb128_len(name.len()) + name.len() + payload.len()) as u32,
    );
    leb128(&mut wasm, name.len() as u32);
    wasm.extend_from_slice(name);
    wasm.extend_from_slice(&payload);
    wasm
}

fn leb128(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn leb128_len(v: usize) -> usize {
    let mut buf = Vec::new();
    leb128(&mut buf, v as u32);
    buf.len()
}

/// The pre-initialized component, or `None` when it has no `prewarm` export.
async fn snapshot(wasm: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    let engine = Engine::new(&config)?;
    if !exports_prewarm(&engine, wasm)? {
        eprintln!("component-prewarm: no `{INIT_EXPORT}` export; nothing to do");
        return Ok(None);
    }
    let mut wizer = Wizer::new();
    // The component-level export aliases the core one, so the core export must stay.
    wizer.init_func(INIT_EXPORT).keep_init_func(true);
    let (cx, instrumented) = wizer.instrument_component(wasm)?;
    let component = Component::new(&engine, &instrumented)?;

    let mut linker = Linker::<State>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    stub_spin_interfaces(&mut linker, &component, &engine)?;
    let state = State {
        wasi: WasiCtx::builder().inherit_stderr().build(),
        http: WasiHttpCtx::new(),
        table: ResourceTable::new(),
        hooks: NoOutbound,
    };
    let mut store = Store::new(&engine, state);
    let instance = linker.instantiate_async(&mut store, &component).await?;
    let init = instance.get_typed_func::<(), ()>(&mut store, INIT_EXPORT)?;
    init.call_async(&mut store, ())
        .await
        .map_err(|e| anyhow!("the prewarm function trapped: {e:#}"))?;

    let snapshot = wizer
        .snapshot_component(
            &cx,
            &mut Snapshotter {
                store: &mut store,
                instance,
            },
        )
        .await?;
    Ok(Some(snapshot))
}

/// Spin's interfaces are not for build time: each of their functions traps if called.
/// (`Linker::define_unknown_imports_as_traps` would also stub WASI imports whose patch
/// version differs from the linker's, breaking their shared resource types.)
fn stub_spin_interfaces(
    linker: &mut Linker<State>,
    component: &Component,
    engine: &Engine,
) -> Result<()> {
    struct Unavailable;
    let imports: Vec<(String, ComponentItem)> = component
        .component_type()
        .imports(engine)
        .map(|(name, item)| (name.to_owned(), item.ty))
        .collect();
    for (name, item) in imports {
        let ComponentItem::ComponentInstance(instance) = item else {
            continue;
        };
        if !(name.starts_with("fermyon:spin/") || name.starts_with("spin:")) {
            continue;
        }
        let mut stubs = linker.instance(&name)?;
        for (export, item) in instance.exports(engine) {
            match item.ty {
                ComponentItem::Resource(_) => {
                    stubs.resource(export, ResourceType::host::<Unavailable>(), |_, _| Ok(()))?
                }
                ComponentItem::ComponentFunc(_) => {
                    let what = format!("{name}#{export}");
                    stubs.func_new_async(export, move |_, _, _, _| {
                        let what = what.clone();
                        Box::new(async move {
                            Err(wasmtime::format_err!(
                                "{what} is not available at build time"
                            ))
                        })
                    })?
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn exports_prewarm(engine: &Engine, wasm: &[u8]) -> Result<bool> {
    let component = Component::new(engine, wasm)?;
    Ok(component.get_export_index(None, INIT_EXPORT).is_some())
}

/// Lets Wizer read the instance's memories and globals through the accessor functions
/// its instrumentation exported.
struct Snapshotter<'a> {
    store: &'a mut Store<State>,
    instance: Instance,
}

impl Snapshotter<'_> {
    async fn call<R: Lift + Send + Sync + 'static>(
        &mut self,
        instance: &str,
        func: &str,
    ) -> Result<R> {
        let outer = self
            .instance
            .get_export_index(&mut *self.store, None, instance)
            .ok_or_else(|| anyhow!("no export {instance}"))?;
        let index = self
            .instance
            .get_export_index(&mut *self.store, Some(&outer), func)
            .ok_or_else(|| anyhow!("no export {instance}#{func}"))?;
        let f = self
            .instance
            .get_typed_func::<(), (R,)>(&mut *self.store, index)?;
        let (ret,) = f.call_async(&mut *self.store, ()).await?;
        Ok(ret)
    }

    async fn value<R: Lift + Send + Sync + 'static>(&mut self, instance: &str, func: &str) -> R {
        match self.call(instance, func).await {
            Ok(v) => v,
            // The trait has no error path; a failed read means a broken snapshot.
            Err(e) => panic!("reading {instance}#{func} for the snapshot: {e:#}"),
        }
    }
}

impl ComponentInstanceState for Snapshotter<'_> {
    async fn call_func_ret_list_u8(
        &mut self,
        instance: &str,
        func: &str,
        contents: impl FnOnce(&[u8]) + Send,
    ) {
        let list: WasmList<u8> = self.value(instance, func).await;
        contents(list.as_le_slice(&*self.store));
    }

    async fn call_func_ret_s32(&mut self, instance: &str, func: &str) -> i32 {
        self.value(instance, func).await
    }

    async fn call_func_ret_s64(&mut self, instance: &str, func: &str) -> i64 {
        self.value(instance, func).await
    }

    async fn call_func_ret_f32(&mut self, instance: &str, func: &str) -> u32 {
        self.value::<f32>(instance, func).await.to_bits()
    }

    async fn call_func_ret_f64(&mut self, instance: &str, func: &str) -> u64 {
        self.value::<f64>(instance, func).await.to_bits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty component: the magic number and the component-model version and layer.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";

    #[test]
    fn a_snapshot_names_the_component_it_was_made_from() {
        let source = fingerprint(b"component bytes");
        let snapshot = with_marker(EMPTY_COMPONENT.to_vec(), source);
        assert_eq!(made_from(&snapshot), Some(source));
        assert_eq!(made_from(EMPTY_COMPONENT), None, "not a snapshot");
        assert_ne!(
            fingerprint(b"component bytes"),
            fingerprint(b"component bytez")
        );
    }
}
