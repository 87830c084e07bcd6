import '@testing-library/jest-dom/vitest';

// jsdom has <dialog> but not its modal API; this is the part our dialogs use.
if (typeof HTMLDialogElement !== 'undefined' && !HTMLDialogElement.prototype.showModal) {
	HTMLDialogElement.prototype.showModal = function (this: HTMLDialogElement) {
		this.setAttribute('open', '');
	};
	HTMLDialogElement.prototype.close = function (this: HTMLDialogElement) {
		this.removeAttribute('open');
		this.dispatchEvent(new Event('close'));
	};
}

// jsdom does no layout, so it has no scrolling either.
if (typeof Element !== 'undefined' && !Element.prototype.scrollIntoView) {
	Element.prototype.scrollIntoView = () => {};
}

// jsdom's Blob has no text(); the import dialog reads files with it.
if (typeof Blob !== 'undefined' && !Blob.prototype.text) {
	Blob.prototype.text = function (this: Blob) {
		return new Promise<string>((resolve, reject) => {
			const reader = new FileReader();
			reader.onload = () => resolve(String(reader.result));
			reader.onerror = () => reject(reader.error);
			reader.readAsText(this);
		});
	};
}
