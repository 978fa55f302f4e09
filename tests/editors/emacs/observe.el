;;; observe.el --- drive eglot through one review and write what Emacs saw  -*- lexical-binding: t -*-
;; Run by tests/editors/test_emacs_helix.py after the README's snippet (LETTERHEAD_SNIPPET):
;;   emacs --batch -q -l observe.el   (site-start on: Debian's elpa packages)
;; Writes JSON to LETTERHEAD_OUT: the server, the Flymake diagnostics, a hover on the
;; salutation and a completion in the `tags:' list.
(require 'package)
(package-initialize)                    ; Debian's elpa-eglot and elpa-markdown-mode
(require 'json)
(require 'cl-lib)

(defvar letterhead-seen (list (cons 'errors nil)))
(defun letterhead-note (key value) (push (cons key value) letterhead-seen))
(defun letterhead-write ()
  (with-temp-file (getenv "LETTERHEAD_OUT")
    (insert (json-encode letterhead-seen))))

(defun letterhead-wait (predicate seconds)
  "Let the server talk until PREDICATE holds or SECONDS pass; the last value of PREDICATE."
  (let ((deadline (+ (float-time) seconds)) value)
    (while (and (not (setq value (funcall predicate))) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    value))

(defmacro letterhead-step (name &rest body)
  `(condition-case err (progn ,@body)
     (error (push (cons ',name (error-message-string err))
                  (alist-get 'errors letterhead-seen)))))

(run-at-time 120 nil (lambda () (letterhead-note 'timeout t) (letterhead-write) (kill-emacs 3)))

(load (getenv "LETTERHEAD_SNIPPET") nil t)
(require 'eglot)
(require 'markdown-mode)

(find-file (getenv "LETTERHEAD_REVIEW"))
(letterhead-note 'major-mode (symbol-name major-mode))
;; eglot-ensure connects from `post-command-hook', which batch mode never runs by itself.
(run-hooks 'post-command-hook)

(letterhead-step attach
  (unless (letterhead-wait (lambda () (eglot-current-server)) 30)
    (error "no eglot server for the review"))
  (let ((server (eglot-current-server)))
    (letterhead-note 'server-name (plist-get (eglot--server-info server) :name))
    (letterhead-note 'project-root (expand-file-name (project-root (eglot--project server))))))

(letterhead-step diagnostics
  (unless (letterhead-wait
           (lambda () (cl-some (lambda (d) (string-match-p "TX001" (flymake-diagnostic-text d)))
                               (flymake-diagnostics)))
           30)
    (error "no TX001 diagnostic in Flymake"))
  (letterhead-note
   'diagnostics
   (mapcar (lambda (d)
             (let ((beg (flymake-diagnostic-beg d)) (end (flymake-diagnostic-end d)))
               (list (cons 'text (flymake-diagnostic-text d))
                     (cons 'line (line-number-at-pos beg))
                     (cons 'covers (buffer-substring-no-properties beg end)))))
           (flymake-diagnostics))))

(letterhead-step hover
  (goto-char (point-min))
  (search-forward "Dear Scarlett")
  (let ((answer (jsonrpc-request (eglot-current-server) :textDocument/hover
                                 (eglot--TextDocumentPositionParams))))
    (letterhead-note 'hover (plist-get (plist-get answer :contents) :value))))

(letterhead-step completion
  (goto-char (point-min))
  (re-search-forward "^tags: \\[.*\\(\\]\\)")
  (goto-char (match-beginning 1))
  (insert ", ")
  (eglot--signal-textDocument/didChange)
  (let* ((answer (jsonrpc-request (eglot-current-server) :textDocument/completion
                                  (eglot--CompletionParams)))
         (items (if (vectorp answer) answer (plist-get answer :items))))
    (letterhead-note 'completion (mapcar (lambda (item) (plist-get item :label)) items))))

(letterhead-write)
(ignore-errors (eglot-shutdown (eglot-current-server)))
(kill-emacs 0)
