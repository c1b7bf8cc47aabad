"""Step 1: turn image sources (MedMNIST .npz, folders, CSV, DICOM, NIfTI) into a prepared dataset."""
