from redisfixtures import *
