// Our own small behaviours; htmx itself comes from the django-htmx package.
