"""Training-side code: the projectM corpus, datasets, targets, the study and model export.

Why a separate package: nothing here is imported by the live daemon. It may use heavy libraries
(PyAV, scikit-learn, skl2onnx) freely; the live side only loads the exported ONNX models.
"""
