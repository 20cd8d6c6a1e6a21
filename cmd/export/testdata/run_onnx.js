// Runs an exported ONNX model with ONNX Runtime (npm onnxruntime-node) and compares its
// logits with xent's.
//
// usage: node run_onnx.js ORT_DIR MODEL IMAGES LOGITS N K
// ORT_DIR: the folder holding node_modules/onnxruntime-node; IMAGES: uint8 [N,3,32,32];
// LOGITS: xent's float32 [N,K], raw little-endian. Prints the largest absolute difference.
const path = require("path");
const fs = require("fs");
const [ortDir, model, images, logits, n, k] = process.argv.slice(2);
const ort = require(path.join(ortDir, "node_modules", "onnxruntime-node"));

(async () => {
  const session = await ort.InferenceSession.create(model);
  const px = new Uint8Array(fs.readFileSync(images));
  const input = new ort.Tensor("uint8", px, [Number(n), 3, 32, 32]);
  const out = await session.run({ images: input });
  const got = out.logits.data;
  const buf = fs.readFileSync(logits);
  const want = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  if (got.length !== want.length || got.length !== Number(n) * Number(k)) {
    throw new Error(`got ${got.length} logits, want ${want.length}`);
  }
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  console.log(worst);
})().catch((e) => { console.error(e.message); process.exit(1); });
