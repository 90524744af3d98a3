// A .wasm imported as a module (workerd, wrangler, esbuild's copy loader): the compiled module.
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
