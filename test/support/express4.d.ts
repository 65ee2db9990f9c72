// express@4 is installed under the alias "express4" to test both majors side by side; its API for what
// the tests use (an app with use/post and express.json) is the one @types/express describes.
declare module "express4" {
  import express from "express";
  export default express;
}
