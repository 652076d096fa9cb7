"""A run taken elsewhere: TensorBoard's projector, ONNX, one offline HTML report."""
