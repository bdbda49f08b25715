// Placeholder so the target has a source until the component lands; delete when adding real files.
